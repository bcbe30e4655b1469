public import ChangeRequests
public import CommandPipeline
public import Foundation
public import Hummingbird
import TherapyModel

/// The pairing routes over a ``CommandPipeline`` (docs/pairing.md), answered like the change
/// routes: JSON in and out, errors as `{"error", "reason", "message"}` with their status.
///
/// | route                               | success                                                   |
/// |-------------------------------------|-----------------------------------------------------------|
/// | `POST /v1/pairings`                 | 201, `{"pump", "patientId", "phoneId"?, "auditIndex"}`: the pump is bound to the caller |
/// | `POST /v1/pumps/{serial}/unpair`    | 202 `{"state": "pending"}` for the first party, 200 `{"state": "unpaired"}` for the second |
/// | `POST /v1/pumps/{serial}/transfer`  | as unpair, with `{"patientId": "…"}`; 200 `{"state": "transferred", "patientId"}` |
public struct PairingRoutes: Sendable {
    public let pipeline: CommandPipeline

    public init(pipeline: CommandPipeline) {
        self.pipeline = pipeline
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/v1/pairings") { request, _ in
            await ChangeRoutes.answer {
                var request = request
                let body = try await ChangeRoutes.body(of: &request)
                let binding = try await self.pipeline.pair(body: body, authorization: request.headers[.authorization])
                return ChangeRoutes.json(201, Self.encode(binding))
            }
        }
        router.post("/v1/pumps/:serial/unpair") { request, context in
            await ChangeRoutes.answer {
                let outcome = try await self.pipeline.requestUnpair(
                    serial: try context.parameters.require("serial"),
                    authorization: request.headers[.authorization]
                )
                return ChangeRoutes.json(outcome.status, outcome.body)
            }
        }
        router.post("/v1/pumps/:serial/transfer") { request, context in
            await ChangeRoutes.answer {
                var request = request
                let body = try await ChangeRoutes.body(of: &request)
                let outcome = try await self.pipeline.requestTransfer(
                    serial: try context.parameters.require("serial"),
                    body: body,
                    authorization: request.headers[.authorization]
                )
                return ChangeRoutes.json(outcome.status, outcome.body)
            }
        }
    }

    /// A binding as the paired patient sees it.
    public static func encode(_ binding: PumpBinding) -> Data {
        var object: [String: Any] = [
            "pump": binding.pumpSerial, "patientId": binding.patientID, "auditIndex": binding.auditIndex,
            "pairedAt": binding.boundAt.millisecondsSinceEpoch,
        ]
        if let phone = binding.phoneID { object["phoneId"] = phone }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }
}

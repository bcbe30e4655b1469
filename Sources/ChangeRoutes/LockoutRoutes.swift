public import CommandPipeline
import Foundation
public import Hummingbird
import Lockouts
import TherapyJSON
import TherapyModel

/// The lockout routes over a ``CommandPipeline`` (incident staff's tools), answered like the
/// change routes: JSON in and out, errors as `{"error", "reason", "message"}` with their status.
///
/// | route                                  | success                                         |
/// |----------------------------------------|-------------------------------------------------|
/// | `POST /v1/lockouts`                    | 201, the lockout with the pumps it covers       |
/// | `GET /v1/lockouts`                     | 200, `{"lockouts": [...]}`, newest first         |
/// | `GET /v1/lockouts/{id}`                | 200, the lockout: each covered pump `acknowledged`, `pending` (connected) or `offline` (gets it on connect) |
/// | `POST /v1/lockouts/{id}/lift`          | 200, the lockout (`lift_requested`)              |
/// | `POST /v1/lockouts/{id}/lift/confirm`  | 200, the lockout (`lifted`); 403 `same_person` for the one who asked |
public struct LockoutRoutes: Sendable {
    public let pipeline: CommandPipeline

    public init(pipeline: CommandPipeline) {
        self.pipeline = pipeline
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/v1/lockouts") { request, _ in
            await ChangeRoutes.answer {
                var request = request
                let body = try await ChangeRoutes.body(of: &request)
                let view = try await self.pipeline.startLockout(
                    body: body,
                    authorization: request.headers[.authorization]
                )
                return ChangeRoutes.json(201, Self.encode(view))
            }
        }
        router.get("/v1/lockouts") { request, _ in
            await ChangeRoutes.answer {
                let views = try await self.pipeline.lockoutList(authorization: request.headers[.authorization])
                return ChangeRoutes.json(200, Self.encode(LockoutList(lockouts: views.map(Self.json))))
            }
        }
        router.get("/v1/lockouts/:id") { request, context in
            await ChangeRoutes.answer {
                let view = try await self.pipeline.lockoutDetail(
                    try context.parameters.require("id"),
                    authorization: request.headers[.authorization]
                )
                return ChangeRoutes.json(200, Self.encode(view))
            }
        }
        router.post("/v1/lockouts/:id/lift") { request, context in
            await ChangeRoutes.answer {
                let view = try await self.pipeline.requestLockoutLift(
                    try context.parameters.require("id"),
                    authorization: request.headers[.authorization]
                )
                return ChangeRoutes.json(200, Self.encode(view))
            }
        }
        router.post("/v1/lockouts/:id/lift/confirm") { request, context in
            await ChangeRoutes.answer {
                let view = try await self.pipeline.confirmLockoutLift(
                    try context.parameters.require("id"),
                    authorization: request.headers[.authorization]
                )
                return ChangeRoutes.json(200, Self.encode(view))
            }
        }
    }

    // MARK: JSON

    struct LockoutList: Encodable {
        let lockouts: [LockoutJSON]
    }

    struct LockoutJSON: Encodable {
        struct Step: Encodable {
            let by: String
            let role: String
            let at: String
            let auditIndex: UInt64
        }
        struct Pump: Encodable {
            let serial: String
            let state: String
            let connected: Bool
            let acknowledgedAt: String?
            let lastSentAt: String?
        }
        struct Summary: Encodable {
            let covered: Int
            let acknowledged: Int
            let pending: Int
            let offline: Int
        }
        let id: String
        let scope: String
        let reason: String
        let suspendDelivery: Bool
        let state: String
        let started: Step
        let liftRequested: Step?
        let lifted: Step?
        let pumps: [Pump]?
        let summary: Summary?
        let note: String?
    }

    static func json(_ view: CommandPipeline.LockoutView) -> LockoutJSON {
        let lockout = view.lockout
        func step(_ step: LockoutStep?) -> LockoutJSON.Step? {
            step.map {
                LockoutJSON.Step(
                    by: $0.actorID,
                    role: $0.actorRole,
                    at: time($0.atMilliseconds),
                    auditIndex: $0.auditIndex
                )
            }
        }
        var note: String?
        if view.detailed {
            if !lockout.scope.locksPumps {
                note =
                    "a phone lockout shuts the phone out: its uplinks are closed and new ones refused; its pumps "
                    + "may reconnect through another phone"
            } else if view.pumps.isEmpty {
                note =
                    "no pump known to the gateway is in scope now; pumps that match later are locked out when "
                    + "they connect"
            }
        }
        let pumps = view.pumps.map { pump in
            LockoutJSON.Pump(
                serial: pump.serial,
                state: pump.state,
                connected: pump.connected,
                acknowledgedAt: pump.acknowledgedAt.map(time),
                lastSentAt: pump.lastSentAt.map(time)
            )
        }
        return LockoutJSON(
            id: lockout.id.rawValue,
            scope: lockout.scope.description,
            reason: lockout.reason,
            suspendDelivery: lockout.suspendDelivery,
            state: lockout.stateName,
            started: step(lockout.started)!,
            liftRequested: step(lockout.liftRequested),
            lifted: step(lockout.lifted),
            pumps: view.detailed ? pumps : nil,
            summary: view.detailed
                ? LockoutJSON.Summary(
                    covered: pumps.count,
                    acknowledged: pumps.filter { $0.state == "acknowledged" }.count,
                    pending: pumps.filter { $0.state == "pending" }.count,
                    offline: pumps.filter { $0.state == "offline" }.count
                ) : nil,
            note: note
        )
    }

    static func encode(_ view: CommandPipeline.LockoutView) -> Data { encode(json(view)) }

    static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    static func time(_ milliseconds: Int64) -> String {
        ISO8601Time.format(Timestamp(millisecondsSinceEpoch: milliseconds))
    }
}

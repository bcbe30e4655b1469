import AuditLog
public import AuditWitness
import Foundation
public import Hummingbird

/// Where a witness that runs apart from the gateway hands in its cosignatures (docs/witness.md):
///
/// | route | answer |
/// |---|---|
/// | `POST /v1/audit/cosignatures` `{"checkpoint": body, "cosignature": "— name base64"}` | 201 `{"witness", "size", "timestamp"}`; 400 `invalid_body`, `invalid_checkpoint`, `invalid_cosignature`; 403 `unknown_witness`; 409 `unknown_checkpoint` |
///
/// No bearer token: the cosignature itself authenticates its sender, checked against the witness
/// keys the gateway was given. Only a cosignature on a checkpoint this log signed is kept (a
/// cosignature on another tree is a witness talking about a fork, not a record for this log).
/// Kept in `STATE/cosignatures.json` (`CosignatureStore`); `GET /v1/audit/checkpoint` appends
/// them to the note it serves with `CosignatureStore.cosignedNote`.
public struct CosignatureRoutes: Sendable {
    public static let maximumBodySize = 16_384

    public let store: CosignatureStore
    public let witnesses: [CosignatureVerifier]
    /// The log's signed checkpoint note of a size, nil when it signed none (e.g. from the
    /// `AuditStore`'s checkpoints).
    public let checkpointNote: @Sendable (UInt64) async throws -> String?

    public init(
        store: CosignatureStore,
        witnesses: [CosignatureVerifier],
        checkpointNote: @escaping @Sendable (UInt64) async throws -> String?
    ) {
        self.store = store
        self.witnesses = witnesses
        self.checkpointNote = checkpointNote
    }

    private struct Submission: Decodable {
        let checkpoint: String
        let cosignature: String
    }

    private struct Stored: ResponseEncodable {
        let witness: String
        let size: UInt64
        let timestamp: UInt64
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/v1/audit/cosignatures") { request, context in
            let bytes = try await request.body.collect(upTo: Self.maximumBodySize)
            guard let submission = try? JSONDecoder().decode(Submission.self, from: Data(bytes.readableBytesView))
            else {
                throw APIError(.badRequest, "invalid_body", "expected {\"checkpoint\": body, \"cosignature\": line}")
            }
            let checkpoint: Checkpoint
            do {
                checkpoint = try Checkpoint(parsing: submission.checkpoint, context: "cosigned checkpoint")
            } catch let error as AuditLogError {
                throw APIError(.badRequest, "invalid_checkpoint", error.reason)
            }
            let (witness, timestamp) = try self.verify(submission.cosignature, body: submission.checkpoint)
            guard let note = try await self.checkpointNote(checkpoint.size), note.hasPrefix(checkpoint.body + "\n")
            else {
                throw APIError(
                    .conflict,
                    "unknown_checkpoint",
                    "this log signed no checkpoint of size \(checkpoint.size) with that root; compare the witness's log key and origin"
                )
            }
            do {
                try self.store.add(
                    .init(
                        witness: witness.name,
                        keyID: witness.keyID.map { String(format: "%02x", $0) }.joined(),
                        size: checkpoint.size,
                        checkpoint: checkpoint.body,
                        line: submission.cosignature,
                        timestamp: timestamp
                    )
                )
            } catch let error as WitnessError {
                context.logger.error("cosignature store failed", metadata: ["reason": "\(error.reason)"])
                throw APIError(.serviceUnavailable, "store_failed", "the gateway could not store the cosignature")
            }
            var response = try Stored(witness: witness.name, size: checkpoint.size, timestamp: timestamp)
                .response(from: request, context: context)
            response.status = .created
            return response
        }
    }

    /// The trusted witness whose key made `line`, and the cosignature's timestamp.
    private func verify(_ line: String, body: String) throws -> (CosignatureVerifier, UInt64) {
        for witness in self.witnesses {
            do {
                if let timestamp = try witness.timestamp(ofLine: line, body: body) { return (witness, timestamp) }
            } catch let error as WitnessError {
                throw APIError(.badRequest, "invalid_cosignature", error.reason)
            }
        }
        throw APIError(
            .forbidden,
            "unknown_witness",
            self.witnesses.isEmpty
                ? "this gateway trusts no witness; start it with --witness-key VKEY for each witness it should accept"
                : "the cosignature is not by a witness this gateway trusts (give its vkey to the gateway: --witness-key)"
        )
    }
}

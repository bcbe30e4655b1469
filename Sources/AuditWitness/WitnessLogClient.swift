public import AuditLog
import Foundation

/// What the witness needs from a log, as closures, so the same witness runs against the gateway's
/// HTTP API (`http(base:)`), a state directory on this host (`directory(_:)`), or a test's script.
public struct WitnessLogClient: Sendable {
    /// A cosignature on its way to the log's operator.
    public struct Submission: Hashable, Sendable {
        /// The cosigned checkpoint body.
        public var checkpoint: String
        /// The note signature line.
        public var line: String
        public var entry: CosignatureStore.Entry

        public init(checkpoint: Checkpoint, line: String, by witness: CosignatureVerifier, timestamp: UInt64) {
            self.checkpoint = checkpoint.body
            self.line = line
            self.entry = .init(
                witness: witness.name,
                keyID: hexString(witness.keyID),
                size: checkpoint.size,
                checkpoint: checkpoint.body,
                line: line,
                timestamp: timestamp
            )
        }
    }

    /// The log's latest signed checkpoint note (body, blank line, signatures).
    public var latestCheckpoint: @Sendable () async throws -> String
    /// The consistency proof from an old tree size to a new one (RFC 9162 order).
    public var consistencyProof: @Sendable (_ from: UInt64, _ to: UInt64) async throws -> [[UInt8]]
    /// Hands a cosignature to the log's operator.
    public var submit: @Sendable (Submission) async throws -> Void

    public init(
        latestCheckpoint: @escaping @Sendable () async throws -> String,
        consistencyProof: @escaping @Sendable (_ from: UInt64, _ to: UInt64) async throws -> [[UInt8]],
        submit: @escaping @Sendable (Submission) async throws -> Void
    ) {
        self.latestCheckpoint = latestCheckpoint
        self.consistencyProof = consistencyProof
        self.submit = submit
    }

    /// A log in a state directory on this host: read from its database, cosignatures stored in
    /// its `cosignatures.json`. For tests, demos and a witness sharing a host with a backup copy.
    public static func directory(_ path: String) -> WitnessLogClient {
        let directory = AuditStateDirectory(path: path)
        return WitnessLogClient(
            latestCheckpoint: {
                let store = try await directory.openStore(create: false)
                guard let latest = try await store.latestCheckpoint() else {
                    throw WitnessError(.logUnreachable, "\(path): the log has no signed checkpoint yet")
                }
                return latest.note
            },
            consistencyProof: { from, to in
                try await directory.openStore(create: false).consistencyProof(from: from, to: to).hashes
            },
            submit: { submission in
                try CosignatureStore(stateDirectory: path).add(submission.entry)
            }
        )
    }
}

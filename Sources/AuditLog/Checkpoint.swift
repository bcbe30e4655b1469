import Foundation

/// A tree head in the C2SP tlog-checkpoint text form, the body of a signed note:
///
///     <origin>\n<tree size, decimal>\n<root hash, standard base64>\n
public struct Checkpoint: Hashable, Sendable {
    public let origin: String
    public let size: UInt64
    public let rootHash: [UInt8]

    public init(origin: String, size: UInt64, rootHash: [UInt8]) {
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
    }

    /// The exact text that is signed.
    public var body: String { "\(self.origin)\n\(self.size)\n\(Data(self.rootHash).base64EncodedString())\n" }

    /// Parses a checkpoint body strictly: three lines, a canonical decimal size, a 32-byte root.
    /// Extension lines after the root are not produced by this log and are rejected.
    public init(parsing body: String, context: String) throws {
        var lines = body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.last == "" else {
            throw AuditLogError(.invalidCheckpoint, "\(context): body must end in a newline")
        }
        lines.removeLast()
        guard lines.count == 3 else {
            throw AuditLogError(
                .invalidCheckpoint,
                "\(context): expected 3 lines (origin, size, root), got \(lines.count)"
            )
        }
        guard !lines[0].isEmpty else { throw AuditLogError(.invalidCheckpoint, "\(context): empty origin") }
        guard let size = UInt64(lines[1]), String(size) == lines[1] else {
            throw AuditLogError(.invalidCheckpoint, "\(context): size \"\(lines[1])\" is not a canonical decimal")
        }
        guard let root = Data(base64Encoded: lines[2]), root.count == RFC9162.hashSize,
            root.base64EncodedString() == lines[2]
        else {
            throw AuditLogError(.invalidCheckpoint, "\(context): root is not a canonical base64 32-byte hash")
        }
        self.init(origin: lines[0], size: size, rootHash: Array(root))
    }
}

/// A checkpoint with the signed note that carries it.
public struct SignedCheckpoint: Hashable, Sendable {
    public let checkpoint: Checkpoint
    /// The full C2SP signed note: body, blank line, signature line(s).
    public let note: String

    public init(checkpoint: Checkpoint, note: String) {
        self.checkpoint = checkpoint
        self.note = note
    }
}

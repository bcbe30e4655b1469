/// An error from the audit log: what failed (`code`), for which input (`reason`) and where.
///
/// Equality is on `code` only, so callers match on the kind of failure, not on the wording.
public struct AuditLogError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable {
            case invalidEvent, malformedEntry, leafHashMismatch, missingEntry, nodeMismatch
            case invalidCheckpoint, checkpointMismatch, invalidProof, rollback, fork
            case storageFailure, logUnavailable, concurrentWriter, invalidArgument, keyFile, witnessFile
            case noLog, databaseUnavailable
        }
        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// An event's field is out of range (too long, bad characters).
        public static let invalidEvent = Code(.invalidEvent)
        /// Stored entry bytes do not decode as a canonical entry.
        public static let malformedEntry = Code(.malformedEntry)
        /// An entry's recomputed leaf hash differs from the stored one.
        public static let leafHashMismatch = Code(.leafHashMismatch)
        /// An index is absent where the log must be contiguous (a deleted or truncated row).
        public static let missingEntry = Code(.missingEntry)
        /// A stored interior tree hash differs from the one recomputed from the entries.
        public static let nodeMismatch = Code(.nodeMismatch)
        /// A checkpoint does not parse or its signature does not verify.
        public static let invalidCheckpoint = Code(.invalidCheckpoint)
        /// A signed checkpoint's root differs from the root of the stored entries.
        public static let checkpointMismatch = Code(.checkpointMismatch)
        /// An inclusion or consistency proof does not verify.
        public static let invalidProof = Code(.invalidProof)
        /// A checkpoint is smaller than one already witnessed.
        public static let rollback = Code(.rollback)
        /// A checkpoint contradicts one already witnessed (same size, other root, or inconsistent).
        public static let fork = Code(.fork)
        /// The store could not make a write durable (I/O error, disk full, read-only).
        public static let storageFailure = Code(.storageFailure)
        /// The database holding the log could not be reached or stopped answering. Nothing of a
        /// write is known to have happened: the log settles it once the database answers again.
        public static let databaseUnavailable = Code(.databaseUnavailable)
        /// A previous storage failure stopped the log; reopen it to continue.
        public static let logUnavailable = Code(.logUnavailable)
        /// Another process appended to the store; state must be reloaded.
        public static let concurrentWriter = Code(.concurrentWriter)
        /// A caller passed an index, size or option that is out of range.
        public static let invalidArgument = Code(.invalidArgument)
        /// The checkpoint signing key file is missing, unreadable or too widely readable.
        public static let keyFile = Code(.keyFile)
        /// The witness state file is unreadable or malformed.
        public static let witnessFile = Code(.witnessFile)
        /// A state directory that should hold a log has none (`audit.sqlite`): a mistyped path?
        public static let noLog = Code(.noLog)

        public var description: String { String(describing: self.backing) }
    }

    public var code: Code
    public var reason: String
    public var file: String
    public var line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { "\(self.reason) [\(self.code)]" }
    /// With where in the source it was made, for a developer's log; users see ``description``.
    public var debugDescription: String { "\(self.description) (\(self.file):\(self.line))" }

    public static func == (lhs: AuditLogError, rhs: AuditLogError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
}

/// An error of the state directory's lock, of a backup or of a restore.
///
/// Equality is on `code` only, so callers and tests match on the kind of failure, not on wording.
/// `reason` names the input (the directory, the backup's file) and what to do; it never holds a
/// source path, which only `debugDescription` adds for a developer's log.
public struct StateBackupError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: String, Hashable, Sendable {
            case inUse, destinationExists, notEmpty, notABackup, mismatch, rollback, storage, remoteLog
        }
        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// Another process holds the state directory's lock (`gateway.lock`).
        public static let inUse = Code(.inUse)
        /// A backup's destination exists already: a backup never overwrites.
        public static let destinationExists = Code(.destinationExists)
        /// A restore's target state directory holds files already.
        public static let notEmpty = Code(.notEmpty)
        /// The folder is not a backup (no readable manifest.json).
        public static let notABackup = Code(.notABackup)
        /// A file of the backup differs from its manifest, fails its integrity check, or the
        /// audit log in it does not verify to the manifest's size and root.
        public static let mismatch = Code(.mismatch)
        /// Restoring would roll the audit log back behind what a witness cosigned.
        public static let rollback = Code(.rollback)
        /// Reading or writing a file or database failed.
        public static let storage = Code(.storage)
        /// The state directory's audit log lives in a database (`audit-database.url`): a backup of
        /// the directory alone would miss it.
        public static let remoteLog = Code(.remoteLog)

        public var description: String { self.backing.rawValue }
    }

    public var code: Code
    public var reason: String
    /// The file of the backup the error is about (relative to the backup), when there is one.
    public var fileName: String?
    public var file: String
    public var line: Int

    public init(_ code: Code, _ reason: String, fileName: String? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.fileName = fileName
        self.file = file
        self.line = line
    }

    public var description: String { self.reason }
    public var debugDescription: String { "\(self.reason) [\(self.code)] (\(self.file):\(self.line))" }

    public static func == (lhs: StateBackupError, rhs: StateBackupError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
}

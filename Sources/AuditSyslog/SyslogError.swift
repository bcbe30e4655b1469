/// An error of the syslog stream: what failed (`code`), for which input and what to do (`reason`).
/// Equality is on `code` only.
public struct SyslogError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable {
            case malformedFrame, invalidCollector, invalidCA, cursorFile, missingEntries
        }
        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// A byte stream that is not octet-counted syslog.
        public static let malformedFrame = Code(.malformedFrame)
        /// `--syslog` is not HOST:PORT, or given without `--syslog-ca` (or the other way round).
        public static let invalidCollector = Code(.invalidCollector)
        /// The collector's CA file is unreadable or holds no PEM certificate.
        public static let invalidCA = Code(.invalidCA)
        /// The cursor file could not be written (its directory is missing or read-only).
        public static let cursorFile = Code(.cursorFile)
        /// The log returned fewer entries than asked for: a gap in the store.
        public static let missingEntries = Code(.missingEntries)

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

    public static func == (lhs: SyslogError, rhs: SyslogError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
}

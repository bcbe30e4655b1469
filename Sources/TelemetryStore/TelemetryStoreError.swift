/// Why the telemetry store did not take or keep a write.
public struct TelemetryStoreError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case queueFull
            case closed
            case storageFailed
            case schemaMismatch
            case databaseUnavailable
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// More writes are waiting than the store allows; the caller should slow down (the
        /// pump keeps unacknowledged telemetry and sends it again).
        public static let queueFull = Code(.queueFull)
        /// The store was closed (the gateway is shutting down).
        public static let closed = Code(.closed)
        /// SQLite failed (disk full, I/O error); the store refuses every later write until
        /// it is reopened, so that nothing is acknowledged that was not stored.
        public static let storageFailed = Code(.storageFailed)
        /// The database was written by a newer MedTunnel with a schema this one does not know.
        public static let schemaMismatch = Code(.schemaMismatch)
        /// The shared database did not answer: the writer holds the batch and tries it again;
        /// a write's completion gets this only when the store closed before it was written.
        public static let databaseUnavailable = Code(.databaseUnavailable)

        public var description: String { self.base.rawValue }
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (lhs: TelemetryStoreError, rhs: TelemetryStoreError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }

    public var description: String { "telemetry store \(self.code): \(self.reason)" }
}

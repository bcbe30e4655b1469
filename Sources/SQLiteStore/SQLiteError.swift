/// An error from SQLite: the result code, SQLite's own message and the operation that failed.
public struct SQLiteError: Error, Hashable, CustomStringConvertible {
    /// The SQLite extended result code (`SQLITE_FULL`, `SQLITE_IOERR_FSYNC`, ...).
    public var resultCode: Int32
    /// What was being done and SQLite's message, e.g. "COMMIT: database or disk is full".
    public var reason: String
    public var file: String
    public var line: Int

    public init(resultCode: Int32, reason: String, file: String = #fileID, line: Int = #line) {
        self.resultCode = resultCode
        self.reason = reason
        self.file = file
        self.line = line
    }

    /// The primary result code (the low byte of the extended code).
    public var primaryCode: Int32 { self.resultCode & 0xff }

    /// True for the codes that mean "another connection holds the lock" (`SQLITE_BUSY`, `SQLITE_LOCKED`).
    public var isBusy: Bool { self.primaryCode == 5 || self.primaryCode == 6 }

    public var description: String { "SQLite error \(self.resultCode): \(self.reason)" }
    /// With where in the source it was made, for a developer's log; users see ``description``.
    public var debugDescription: String { "\(self.description) (\(self.file):\(self.line))" }

    public static func == (lhs: SQLiteError, rhs: SQLiteError) -> Bool { lhs.resultCode == rhs.resultCode }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.resultCode) }
}

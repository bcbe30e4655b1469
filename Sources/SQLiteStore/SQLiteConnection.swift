internal import CSQLite

/// One SQLite connection with the durability settings spelled out rather than left to defaults.
///
/// Not thread-safe and not `Sendable`: own it from one thread or one actor (see `SQLiteExecutor`).
/// Raw SQLite pointers never leave this module.
public final class SQLiteConnection {
    /// How a connection commits.
    public struct Durability: Sendable, Hashable {
        /// `journal_mode=WAL` and `synchronous=FULL`: a commit returns after the WAL is fsynced.
        public static let walFull = Durability(journalMode: "WAL", synchronous: "FULL")
        /// `journal_mode=WAL` and `synchronous=NORMAL`: for data that may lose its last commits on power loss.
        public static let walNormal = Durability(journalMode: "WAL", synchronous: "NORMAL")

        public var journalMode: String
        public var synchronous: String
    }

    let handle: OpaquePointer
    public let path: String
    /// Compiled statements waiting for reuse (see `SQLiteStatementPool`).
    let statements = SQLiteStatementPool()

    /// Opens (and creates when `create` is true) the database at `path`.
    public init(
        path: String,
        create: Bool = true,
        readOnly: Bool = false,
        busyTimeoutMilliseconds: Int32 = 10_000
    )
        throws
    {
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(resultCode: rc, reason: "open \(path): \(message)")
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit {
        self.statements.close()
        // Statements still alive keep the handle open until they end (`close_v2`).
        sqlite3_close_v2(self.handle)
    }

    /// Sets the journal mode and synchronous level and checks that SQLite really applied them.
    public func apply(_ durability: Durability) throws {
        let mode = try self.pragma("journal_mode", durability.journalMode)
        guard mode.lowercased() == durability.journalMode.lowercased() else {
            throw SQLiteError(
                resultCode: 1,
                reason: "\(self.path): journal_mode is \(mode), wanted \(durability.journalMode)"
            )
        }
        try self.execute("PRAGMA synchronous=\(durability.synchronous)")
        let level = try self.pragma("synchronous")
        let expected = ["OFF": "0", "NORMAL": "1", "FULL": "2", "EXTRA": "3"][durability.synchronous.uppercased()]
        guard level == expected else {
            throw SQLiteError(
                resultCode: 1,
                reason: "\(self.path): synchronous is \(level), wanted \(durability.synchronous)"
            )
        }
    }

    /// Reads a pragma, or sets it and returns what SQLite reports back.
    @discardableResult
    public func pragma(_ name: String, _ value: String? = nil) throws -> String {
        let statement = try self.prepare(value.map { "PRAGMA \(name)=\($0)" } ?? "PRAGMA \(name)")
        defer { statement.reset() }
        return try statement.step() ? statement.text(0) : ""
    }

    /// Runs one or more SQL statements that take no parameters.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(self.handle, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw SQLiteError(resultCode: rc, reason: "\(sql): \(text)")
        }
    }

    public func prepare(_ sql: String) throws -> SQLiteStatement {
        try SQLiteStatement(connection: self, sql: sql)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE` ... `COMMIT`; rolls back if `body` or the commit throws.
    /// With `Durability.walFull` the commit has reached stable storage when this returns.
    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try self.execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try self.execute("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(self.handle) == 0 {
                try? self.execute("ROLLBACK")
            }
            throw error
        }
    }

    /// Runs `body` in a read transaction, so that every read sees the same snapshot.
    public func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try self.execute("BEGIN DEFERRED")
        defer { try? self.execute("COMMIT") }
        return try body()
    }

    /// The number of rows the last statement changed.
    public var changes: Int { Int(sqlite3_changes(self.handle)) }

    /// Rows changed by this connection's own statements since it was opened.
    public var totalChanges: Int64 { sqlite3_total_changes64(self.handle) }

    /// `PRAGMA data_version`: moves whenever another connection, of this process or any other,
    /// has committed to the database since this connection last asked; this connection's own
    /// commits leave it alone (see `totalChanges`). Cheap: in WAL mode it reads the shared
    /// WAL index header, not the database.
    public func dataVersion() throws -> Int64 {
        let statement = try self.prepare("PRAGMA data_version")
        guard try statement.step() else {
            throw SQLiteError(resultCode: 1, reason: "\(self.path): PRAGMA data_version returned no row")
        }
        return statement.int64(0)
    }

    func error(_ rc: Int32, _ what: String) -> SQLiteError {
        SQLiteError(resultCode: rc, reason: "\(what): \(String(cString: sqlite3_errmsg(self.handle)))")
    }
}

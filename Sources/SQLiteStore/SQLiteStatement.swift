internal import CSQLite

/// A prepared statement. Not thread-safe: use it on the thread that owns its connection. When it
/// ends it goes back, reset, to its connection's `SQLiteStatementPool` for the next `prepare`
/// of the same text.
public final class SQLiteStatement {
    let handle: OpaquePointer
    private unowned let connection: SQLiteConnection
    private let pool: SQLiteStatementPool
    private let sql: String

    init(connection: SQLiteConnection, sql: String) throws {
        if let reused = connection.statements.take(sql) {
            self.handle = reused
        } else {
            var statement: OpaquePointer?
            let rc = sqlite3_prepare_v2(connection.handle, sql, -1, &statement, nil)
            guard rc == SQLITE_OK, let statement else {
                sqlite3_finalize(statement)
                throw connection.error(rc, "prepare \(sql)")
            }
            self.handle = statement
        }
        self.connection = connection
        self.pool = connection.statements
        self.sql = sql
    }

    deinit { pool.give(self.handle, sql: self.sql) }

    /// Resets the statement and clears its bindings so it can run again.
    public func reset() {
        sqlite3_reset(self.handle)
        sqlite3_clear_bindings(self.handle)
    }

    // MARK: Binding (1-based parameter indices, as in SQLite)

    public func bind(_ value: Int64, at index: Int32) throws {
        try self.check(sqlite3_bind_int64(self.handle, index, value), "bind")
    }

    public func bind(_ value: [UInt8], at index: Int32) throws {
        // A zero-length blob must still be a blob, not NULL.
        let rc =
            value.isEmpty
            ? sqlite3_bind_zeroblob(self.handle, index, 0)
            : value.withUnsafeBytes { raw in
                sqlite3_bind_blob(self.handle, index, raw.baseAddress, Int32(raw.count), c_sqlite_transient())
            }
        try self.check(rc, "bind")
    }

    public func bind(_ value: String, at index: Int32) throws {
        try self.check(sqlite3_bind_text(self.handle, index, value, -1, c_sqlite_transient()), "bind")
    }

    public func bind(_ value: SQLiteValue, at index: Int32) throws {
        switch value {
        case .text(let text): try self.bind(text, at: index)
        case .integer(let number): try self.bind(number, at: index)
        case .null: try self.bindNull(at: index)
        }
    }

    public func bindNull(at index: Int32) throws {
        try self.check(sqlite3_bind_null(self.handle, index), "bind")
    }

    // MARK: Stepping

    /// Steps once: true when a row is available, false when the statement is done.
    @discardableResult
    public func step() throws -> Bool {
        let rc = sqlite3_step(self.handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            sqlite3_reset(self.handle)
            throw self.connection.error(rc, self.sql)
        }
    }

    /// Runs a statement that returns no rows, then resets it.
    public func run() throws {
        defer { self.reset() }
        while try self.step() {}
    }

    // MARK: Columns (0-based)

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(self.handle, column) == SQLITE_NULL }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(self.handle, column) }

    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(self.handle, column))
        guard count > 0, let base = sqlite3_column_blob(self.handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    public func text(_ column: Int32) -> String {
        guard let base = sqlite3_column_text(self.handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(self.handle, column))
        return String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
    }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc == SQLITE_OK else { throw self.connection.error(rc, "\(what) \(self.sql)") }
    }
}

/// A value to bind to a statement's parameter.
public enum SQLiteValue: Sendable, Hashable {
    case text(String)
    case integer(Int64)
    case null
}

/// The calls a store makes of its SQL database, so that one store's code runs on SQLite (the
/// embedded default) and on a shared server (PostgreSQL, through a connection that blocks the
/// store's own thread as SQLite's disk reads do).
///
/// Statements are written in the SQL both engines speak: `?` parameters (1-based), standard
/// `INSERT … ON CONFLICT … DO UPDATE`, `SAVEPOINT`, no engine-specific functions. Errors are
/// `SQLiteError`s whatever the engine: a constraint violation has primary code 19
/// (`SQLITE_CONSTRAINT`) on both, so a store's checks read the same.
public protocol SQLDatabase: AnyObject {
    associatedtype Statement: SQLStatement
    /// Runs one statement that returns no rows.
    func execute(_ sql: String) throws
    /// Called on an `any SQLDatabase`, gives `any SQLStatement`.
    func prepare(_ sql: String) throws -> Statement
    /// Runs `body` in a write transaction, committed durably when it returns, rolled back when
    /// it throws.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T
}

/// A prepared statement: bind, then step through its rows.
public protocol SQLStatement: AnyObject {
    func bind(_ value: Int64, at index: Int32) throws
    func bind(_ value: [UInt8], at index: Int32) throws
    func bind(_ value: String, at index: Int32) throws
    func bind(_ value: SQLiteValue, at index: Int32) throws
    func bindNull(at index: Int32) throws
    /// Clears the bindings and the rows, to run the statement again.
    func reset()
    /// Moves to the next row: true while there is one.
    func step() throws -> Bool
    /// Runs a statement that returns no rows.
    func run() throws
    func isNull(_ column: Int32) -> Bool
    func int64(_ column: Int32) -> Int64
    func blob(_ column: Int32) -> [UInt8]
    func text(_ column: Int32) -> String
}

extension SQLStatement {
    public func bind(_ value: String?, at index: Int32) throws {
        if let value { try self.bind(value, at: index) } else { try self.bindNull(at: index) }
    }

    public func bind(_ value: Int64?, at index: Int32) throws {
        if let value { try self.bind(value, at: index) } else { try self.bindNull(at: index) }
    }
}

extension SQLiteConnection: SQLDatabase {}

extension SQLiteStatement: SQLStatement {}

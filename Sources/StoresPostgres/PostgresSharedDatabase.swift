public import AuditLog
package import AuditPostgres
public import ChangeRequests
import Dispatch
public import Lockouts
public import Logging
import NIOCore
import PostgresNIO
public import SQLiteStore
public import SecurityEvents
import Synchronization
public import TelemetryStore

/// The stores' tables in the audit log's PostgreSQL database, shared by every gateway node: the
/// `SharedAuditDatabase` a store writes through (`ChangeRequestStore(shared:audit:)`).
///
/// Its calls block the calling thread until the server answers, as SQLite's calls block on the
/// disk: the store runs them on a thread of its own (its executor), never on the cooperative
/// pool. Each statement is bounded (`statementTimeout`): past it the connection is closed and
/// the call fails with `databaseUnavailable`. A failed connection is replaced before the next
/// transaction, never in the middle of one.
///
/// Statements arrive in the SQL both engines speak, with `?` parameters, numbered here.
/// Errors come back as the store expects them: a constraint violation (SQLSTATE class 23) as a
/// `SQLiteError` with primary code 19, another refusal by the server as a `SQLiteError` naming
/// it, a lost connection as `AuditLogError.databaseUnavailable`.
public final class PostgresSharedDatabase: SharedAuditDatabase {
    package let url: PostgresURL
    private var session: PostgresSession
    private var broken = false
    private var inTransaction = false
    private let logger: Logger
    private let statementTimeout: TimeAmount
    /// When connecting again last failed: the next try waits a second, and calls fail at once
    /// meanwhile (a cut database costs each caller nothing, not a timeout each).
    private var lastFailedConnect: ContinuousClock.Instant?
    public let health = DatabaseHealth()
    /// Where the statements' async halves run: never the cooperative pool (see
    /// `EventLoopTaskExecutor`), so a caller blocked here waits for the server alone.
    private let executor: EventLoopTaskExecutor

    public var name: String { "\(self.url)" }

    private init(url: PostgresURL, session: PostgresSession, logger: Logger, statementTimeout: TimeAmount) {
        self.url = url
        self.session = session
        self.executor = EventLoopTaskExecutor(session.connection.eventLoop)
        self.logger = logger
        self.statementTimeout = statementTimeout
    }

    /// Connects to `url`, whose schema must be at this binary's version (the audit store's
    /// migrations make the stores' tables too: open it first).
    public static func connect(
        url: String,
        statementTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "medtunnel.stores.postgres")
    ) async throws -> PostgresSharedDatabase {
        let parsed = try PostgresURL(url)
        let timeout = TimeAmount.milliseconds(
            statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000
        )
        let session = try await Self.open(parsed, logger: logger, timeout: timeout)
        let rows = try await session.rows(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            operation: "read the schema version"
        )
        let version = try session.decoding("read the schema version") { try rows.first?.decode(Int.self) ?? 0 }
        guard version == PostgresAuditSchema.latestVersion else {
            await session.close()
            throw AuditLogError(
                .storageFailure,
                "\(parsed): schema version \(version), this binary needs \(PostgresAuditSchema.latestVersion): "
                    + "run medtunnel db migrate --database \(parsed)"
            )
        }
        return PostgresSharedDatabase(url: parsed, session: session, logger: logger, statementTimeout: timeout)
    }

    private static func open(
        _ url: PostgresURL,
        logger: Logger,
        timeout: TimeAmount,
        executor: EventLoopTaskExecutor? = nil
    ) async throws -> PostgresSession {
        do {
            return try await PostgresDeadline.run(
                timeout: .nanoseconds(timeout.nanoseconds),
                failure: "\(url): connect",
                executor: executor,
                late: { await $0.close() }
            ) {
                var session = try await PostgresSession.connect(
                    url,
                    logger: logger,
                    applicationName: "medtunnel-stores",
                    connectTimeout: timeout
                )
                session.statementTimeout = timeout
                return session
            }
        } catch let error as AuditLogError where error.code == .storageFailure {
            throw AuditLogError(.databaseUnavailable, error.reason)
        }
    }

    deinit {
        let connection: PostgresConnection = self.session.connection
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    // MARK: SQLDatabase

    public func execute(_ sql: String) throws {
        _ = try self.rows(PostgresQuery(unsafeSQL: sql), operation: sql)
    }

    public func prepare(_ sql: String) throws -> PostgresSQLStatement {
        PostgresSQLStatement(database: self, sql: sql)
    }

    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        precondition(!self.inTransaction, "nested transaction")
        try self.execute("BEGIN")
        self.inTransaction = true
        defer { self.inTransaction = false }
        let value: T
        do {
            value = try body()
        } catch {
            if !self.broken { try? self.execute("ROLLBACK") }
            throw error
        }
        try self.execute("COMMIT")
        return value
    }

    // MARK: SharedAuditDatabase

    public func lockAuditTip() throws -> AuditTip {
        let sql = PostgresAuditSQL(session: try self.usable(), url: self.url)
        return try self.blocking("lock the audit log's head") { try await sql.lockAndReadTip() }
    }

    public func insertAudit(_ batch: AuditBatch) throws {
        let sql = PostgresAuditSQL(session: try self.usable(), url: self.url)
        try self.blocking("append audit entries from \(batch.firstIndex)") { try await sql.append(batch) }
    }

    public func notify(_ channel: String, _ payloads: [String]) throws {
        guard !payloads.isEmpty else { return }
        _ = try self.rows(
            "SELECT pg_notify(\(channel), payload) FROM unnest(\(payloads)::text[]) AS payload",
            operation: "notify \(channel)"
        )
    }

    // MARK: Running statements

    /// Runs `query` and collects its rows, translating errors as the type's comment says.
    func rows(_ query: PostgresQuery, operation: String) throws -> [PostgresRow] {
        let session = try self.usable()
        let url = self.url
        return try self.blocking(operation) {
            do {
                return try await session.uncancellableRows(query)
            } catch let error as PSQLError where error.serverInfo != nil {
                let state = error.serverInfo?[.sqlState] ?? ""
                let message = error.serverInfo?[.message] ?? "\(error)"
                throw SQLiteError(resultCode: state.hasPrefix("23") ? 19 : 1, reason: "\(message) (SQLSTATE \(state))")
            } catch let error as SQLiteError {
                throw error
            } catch {
                throw PostgresSession.translate(error, url: url, operation: String(operation.prefix(80)))
            }
        }
    }

    /// The session, connected again first if the last one failed, unless inside a transaction
    /// (which the failed connection took with it: the transaction fails).
    private func usable() throws -> PostgresSession {
        guard self.broken || self.session.connection.isClosed else { return self.session }
        if self.inTransaction {
            throw AuditLogError(.databaseUnavailable, "\(self.url): the connection was lost inside a transaction")
        }
        if let last = self.lastFailedConnect, ContinuousClock.now - last < .seconds(1) {
            throw AuditLogError(
                .databaseUnavailable,
                self.health.currentProblem ?? "\(self.url): cannot connect (tried less than a second ago)"
            )
        }
        let old: PostgresConnection = self.session.connection
        let closing: EventLoopFuture<Void> = old.close()
        closing.whenComplete { _ in withExtendedLifetime(old) {} }
        let (url, logger, timeout, executor) = (self.url, self.logger, self.statementTimeout, self.executor)
        do {
            self.session = try self.blocking("connect again") {
                try await Self.open(url, logger: logger, timeout: timeout, executor: executor)
            }
        } catch {
            self.lastFailedConnect = ContinuousClock.now
            throw error
        }
        self.lastFailedConnect = nil
        self.broken = false
        self.logger.notice("connected to the shared database again", metadata: ["database": "\(url)"])
        return self.session
    }

    /// Runs `body` on the database's event loop and waits here for it: the caller is the store's
    /// own thread. A lost connection marks the session broken.
    private func blocking<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable () async throws -> T
    ) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<T, any Error>?>(nil)
        Task.detached(executorPreference: self.executor) {
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        guard let result = outcome.withLock({ $0 }) else { preconditionFailure("no outcome") }
        switch result {
        case .failure(let error as AuditLogError) where error.code == .databaseUnavailable:
            self.broken = true
            self.health.failed(error.reason)
        case .failure:
            break
        case .success:
            self.health.answered()
        }
        return try result.get()
    }
}

/// A statement for `PostgresSharedDatabase`: bound by index like SQLite's, run on the first
/// `step()` (its rows are read whole: the store's queries are bounded by their `LIMIT`s and
/// keys) or by `run()`.
public final class PostgresSQLStatement: SQLStatement {
    private enum Bound {
        case integer(Int64)
        case text(String)
        case bytes([UInt8])
        case null
    }

    private unowned let database: PostgresSharedDatabase
    private let sql: String
    private let parameters: Int
    private var bound: [Int32: Bound] = [:]
    private var rows: [PostgresRandomAccessRow]?
    private var cursor = -1

    init(database: PostgresSharedDatabase, sql: String) {
        self.database = database
        (self.sql, self.parameters) = Self.numbered(sql)
    }

    /// `?` outside quotes becomes `$1`, `$2`, …
    static func numbered(_ sql: String) -> (String, Int) {
        var out = ""
        var count = 0
        var quoted = false
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?" && !quoted {
                count += 1
                out += "$\(count)"
            } else {
                out.append(character)
            }
        }
        return (out, count)
    }

    public func bind(_ value: Int64, at index: Int32) throws { self.bound[index] = .integer(value) }
    public func bind(_ value: [UInt8], at index: Int32) throws { self.bound[index] = .bytes(value) }
    public func bind(_ value: String, at index: Int32) throws { self.bound[index] = .text(value) }
    public func bindNull(at index: Int32) throws { self.bound[index] = .null }

    public func bind(_ value: SQLiteValue, at index: Int32) throws {
        switch value {
        case .text(let text): self.bound[index] = .text(text)
        case .integer(let number): self.bound[index] = .integer(number)
        case .null: self.bound[index] = .null
        }
    }

    public func step() throws -> Bool {
        if self.rows == nil {
            self.rows = try self.execute().map { $0.makeRandomAccess() }
            self.cursor = -1
        }
        self.cursor += 1
        return self.cursor < (self.rows?.count ?? 0)
    }

    public func run() throws {
        _ = try self.execute()
        self.rows = nil
    }

    public func reset() {
        self.bound.removeAll()
        self.rows = nil
    }

    private func execute() throws -> [PostgresRow] {
        var binds = PostgresBindings(capacity: self.parameters)
        for index in 0..<self.parameters {
            switch self.bound[Int32(index + 1)] ?? .null {
            case .integer(let number): binds.append(number)
            case .text(let text): binds.append(text)
            case .bytes(let bytes): binds.append(ByteBuffer(bytes: bytes))
            case .null: binds.appendNull()
            }
        }
        return try self.database.rows(PostgresQuery(unsafeSQL: self.sql, binds: binds), operation: self.sql)
    }

    private var row: PostgresRandomAccessRow {
        guard let rows = self.rows, rows.indices.contains(self.cursor) else {
            preconditionFailure("a column read with no current row: \(self.sql)")
        }
        return rows[self.cursor]
    }

    public func isNull(_ column: Int32) -> Bool { self.row[Int(column)].bytes == nil }

    public func int64(_ column: Int32) -> Int64 {
        let cell = self.row[Int(column)]
        return (try? cell.decode(Int64.self)) ?? (try? cell.decode(Int32.self)).map(Int64.init) ?? 0
    }

    public func text(_ column: Int32) -> String { (try? self.row[Int(column)].decode(String.self)) ?? "" }

    public func blob(_ column: Int32) -> [UInt8] {
        (try? self.row[Int(column)].decode(ByteBuffer.self)).map { Array(buffer: $0) } ?? []
    }
}

extension PostgresSharedDatabase {
    /// The change store in the database at `url`, writing through `audit` (the log opened there):
    /// what `ChangeStoreFactories.shared` opens for a state directory bound to it.
    public static func store(url: String, audit: AuditLog) async throws -> ChangeRequestStore {
        let database = try await PostgresSharedDatabase.connect(url: url)
        return ChangeRequestStore(shared: database, audit: audit)
    }
}

extension PostgresSharedDatabase {
    /// The lockout store in the database at `url`, writing through `audit` (the log opened
    /// there), its lockouts and pump directory read: what `LockoutStoreFactories.shared` opens
    /// for a state directory bound to it. A connection of its own (a step of one store never
    /// waits behind the other's).
    public static func lockoutStore(url: String, audit: AuditLog) async throws -> LockoutStore {
        let database = try await PostgresSharedDatabase.connect(url: url)
        let store = LockoutStore(shared: database, audit: audit)
        try await store.refresh()
        return store
    }
}

extension PostgresSharedDatabase {
    /// The security event store in the database at `url`, writing through `audit` (the log
    /// opened there): what `SecurityEventStoreFactories.shared` opens for a state directory bound
    /// to it. A connection of its own.
    public static func securityEventStore(url: String, audit: AuditLog) async throws -> SecurityEventStore {
        let database = try await PostgresSharedDatabase.connect(url: url)
        return SecurityEventStore(shared: database, audit: audit)
    }

    /// The telemetry store in the database at `url`: what `TelemetryStoreFactories.shared` opens
    /// for a state directory bound to it. Two connections, as on SQLite: one for the writer
    /// thread, one for the reads, so a read never waits behind a batch.
    public static func telemetryStore(
        url: String,
        queueLimit: Int = TelemetryStore.defaultQueueLimit,
        retryDelay: Duration = .seconds(1)
    ) async throws -> TelemetryStore {
        let writer = try await PostgresSharedDatabase.connect(url: url)
        let reader = try await PostgresSharedDatabase.connect(url: url)
        return try TelemetryStore(
            sharedWriter: writer,
            reader: reader,
            name: writer.name,
            queueLimit: queueLimit,
            retryDelay: retryDelay
        )
    }
}

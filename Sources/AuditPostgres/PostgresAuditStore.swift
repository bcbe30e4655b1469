public import AuditLog
public import Logging
import NIOCore
import PostgresNIO
import SQLiteStore

/// The audit store on PostgreSQL: the log shared by several gateway nodes (docs/postgres.md).
///
/// The tables are those of `SQLiteAuditStore` (`PostgresAuditSchema`). Appends from every process
/// and node are serialized by the database: each write transaction first locks the one row of
/// `audit_head` (`SELECT … FOR UPDATE`), then reads the size from `entry`, so no two writers can
/// both believe they append at the same index; the primary key on `entry.idx` would refuse it
/// anyway. `append` does this in one statement (the schema's `audit_append` function);
/// `appendAtTip`, which builds the batch in Swift between the read and the write, in a
/// transaction. Commits return once durable (`synchronous_commit = on` on the connection).
///
/// One connection per store, one statement at a time: `serialized` keeps a read from running
/// inside another caller's transaction while that one awaits the server.
///
/// The store runs on a thread of its own, statements' answers included (its executor is also the
/// calls' task executor), never on the cooperative pool. `appendAtTip` holds the head lock open
/// across a round trip and a `build` that may block (a shared store writes its rows there): were
/// its next statement to wait for a pool thread while the pool is busy, the server would end the
/// transaction as idle after 2 s and the append would fail for nothing.
public actor PostgresAuditStore: AuditStore {
    /// The schema this binary writes and reads.
    public static var schemaVersion: Int { PostgresAuditSchema.latestVersion }

    public nonisolated let url: PostgresURL
    /// The connection; replaced when it fails (`serialized` connects again before the next call).
    private var live: PostgresSession
    private var broken = false
    private let logger: Logger
    private let statementTimeout: TimeAmount
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private let executor: SQLiteExecutor

    public nonisolated var unownedExecutor: UnownedSerialExecutor { self.executor.asUnownedSerialExecutor() }

    /// Connects to `url` and, when `migrate`, applies the migrations this binary has and the
    /// database lacks. Refuses a database whose schema is newer than this binary knows, and (when
    /// not migrating) one that is older, naming both versions.
    public init(
        url: String,
        migrate: Bool = true,
        statementTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "medtunnel.audit.postgres")
    ) async throws {
        let parsed = try PostgresURL(url)
        self.url = parsed
        self.logger = logger
        self.statementTimeout = .nanoseconds(
            statementTimeout.components.seconds * 1_000_000_000 + statementTimeout.components.attoseconds
                / 1_000_000_000
        )
        // Migrations run without the statement bound (a future one may rewrite a large table).
        var session = try await PostgresSession.connect(parsed, logger: logger)
        do {
            let version =
                migrate
                ? try await PostgresMigrator(session: session).migrate().to
                : try await PostgresMigrator(session: session).currentVersion()
            guard version == Self.schemaVersion else {
                throw AuditLogError(
                    .storageFailure,
                    version == 0
                        ? "\(parsed): holds no audit log (no schema_migrations): run medtunnel db migrate --database \(parsed)"
                        : "\(parsed): audit schema version \(version), this binary needs \(Self.schemaVersion): "
                            + "run medtunnel db migrate --database \(parsed)"
                )
            }
        } catch {
            await session.close()
            throw error
        }
        session.statementTimeout = self.statementTimeout
        self.live = session
        self.executor = SQLiteExecutor(name: "audit-postgres", taskExecutor: true)
    }

    /// The connection `serialized` made sure of.
    private var session: PostgresSession { self.live }

    /// Closes the connection; the store cannot be used afterwards.
    public func close() async {
        await self.live.close()
    }

    deinit {
        // A store dropped without close() (a log that goes out of scope, a command that exits by
        // throwing) still lets go of its socket; the server rolls back any open transaction.
        // The completion handler keeps the connection alive until it is closed: PostgresNIO
        // requires a connection to be closed before it is released.
        let connection: PostgresConnection = self.live.connection
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
        self.executor.shutdown()
    }

    // MARK: Writes

    public func size() async throws -> UInt64 {
        try await self.serialized { try await self.currentSize() }
    }

    /// One statement, `audit_append`, which is its own transaction: lock, size check and
    /// inserts cost one round trip to the server.
    public func append(_ batch: AuditBatch) async throws {
        try await self.serialized { try await self.sql.append(batch) }
    }

    /// The tip is read after the head row is locked (one statement, `audit_lock_tip`), so the
    /// batch lands exactly where it was built for, whichever node wrote last.
    public func appendAtTip<Result: Sendable>(
        _ build: @Sendable (AuditTip) throws -> (AuditBatch, Result)
    ) async throws -> Result {
        try await self.serialized {
            try await self.session.transaction(operation: "append at the tip") {
                let tip = try await self.sql.lockAndReadTip()
                let (batch, result) = try build(tip)
                guard batch.firstIndex == tip.size else {
                    throw AuditLogError(
                        .concurrentWriter,
                        "\(self.url): a batch built for \(tip.size) starts at \(batch.firstIndex)"
                    )
                }
                try await self.sql.append(batch)
                return result
            }
        }
    }

    public func storeCheckpoint(size: UInt64, note: String) async throws {
        try await self.serialized {
            try await self.insertCheckpoint(StoredCheckpoint(size: size, note: note))
        }
    }

    // MARK: Reads

    public func hashes(of nodes: [MerkleNodeID]) async throws -> [[UInt8]] {
        try await self.serialized { try await self.readHashes(of: nodes) }
    }

    public func entries(in range: Range<UInt64>) async throws -> [StoredEntry] {
        try await self.serialized {
            let operation = "read entries \(range)"
            let rows = try await self.session.rows(
                """
                SELECT idx, body, leaf_hash FROM entry WHERE idx >= \(Int64(clamping: range.lowerBound))
                AND idx < \(Int64(clamping: range.upperBound)) ORDER BY idx
                """,
                operation: operation
            )
            return try self.session.decoding(operation) {
                try rows.map { row in
                    let (index, body, leaf) = try row.decode((Int64, ByteBuffer, ByteBuffer).self)
                    return StoredEntry(index: UInt64(index), body: Array(buffer: body), leafHash: Array(buffer: leaf))
                }
            }
        }
    }

    public func nodes(after key: Int64, limit: Int) async throws -> [StoredNode] {
        try await self.serialized {
            let rows = try await self.session.rows(
                "SELECT id, hash FROM tree_node WHERE id > \(key) ORDER BY id LIMIT \(Int64(limit))",
                operation: "read tree nodes"
            )
            return try self.session.decoding("read tree nodes") {
                try rows.map { row in
                    let (id, hash) = try row.decode((Int64, ByteBuffer).self)
                    return StoredNode(key: id, hash: Array(buffer: hash))
                }
            }
        }
    }

    public func checkpoints() async throws -> [StoredCheckpoint] {
        try await self.serialized {
            try await self.readCheckpoints("SELECT size, note FROM checkpoint ORDER BY size")
        }
    }

    public func latestCheckpoint() async throws -> StoredCheckpoint? {
        try await self.serialized { try await self.readLatestCheckpoint() }
    }

    // MARK: Helpers (inside `serialized`)

    private var sql: PostgresAuditSQL { PostgresAuditSQL(session: self.session, url: self.url) }
    private func currentSize() async throws -> UInt64 { try await self.sql.currentSize() }
    private func insertCheckpoint(_ checkpoint: StoredCheckpoint) async throws {
        try await self.sql.insertCheckpoint(checkpoint)
    }
    private func readHashes(of nodes: [MerkleNodeID]) async throws -> [[UInt8]] {
        try await self.sql.readHashes(of: nodes)
    }
    private func readLatestCheckpoint() async throws -> StoredCheckpoint? { try await self.sql.readLatestCheckpoint() }
    private func readCheckpoints(_ query: PostgresQuery) async throws -> [StoredCheckpoint] {
        try await self.sql.readCheckpoints(query)
    }

    /// Runs `body` alone on the connection: callers queue in order while one awaits the server
    /// (an actor lets others in at every `await`; a transaction must not be entered by them).
    private func serialized<T>(_ body: () async throws -> T) async throws -> T {
        if self.busy {
            await withCheckedContinuation { self.waiting.append($0) }
        } else {
            self.busy = true
        }
        defer {
            if self.waiting.isEmpty {
                self.busy = false
            } else {
                self.waiting.removeFirst().resume()
            }
        }
        if self.broken || self.live.connection.isClosed {
            try await self.reconnect()
        }
        do {
            return try await withTaskExecutorPreference(self.executor) { try await body() }
        } catch let error as AuditLogError where error.code == .databaseUnavailable {
            // The connection's state is unknown (a transaction may be half done): next time, a new one.
            self.broken = true
            throw error
        }
    }

    /// A new connection after the last one failed. Bounded: a server that accepts and never
    /// answers (a cut that keeps TCP up) is unavailable, not a hang.
    private func reconnect() async throws {
        // Not awaited: closing a connection the network swallows may never complete.
        let old: PostgresConnection = self.live.connection
        self.broken = true
        let closing: EventLoopFuture<Void> = old.close()
        closing.whenComplete { _ in withExtendedLifetime(old) {} }
        let url = self.url
        let logger = self.logger
        let timeout = self.statementTimeout
        let session: PostgresSession
        do {
            session = try await PostgresDeadline.run(
                timeout: .nanoseconds(timeout.nanoseconds),
                failure: "\(url): connect again",
                late: { await $0.close() }
            ) {
                var session = try await PostgresSession.connect(
                    url,
                    logger: logger,
                    connectTimeout: timeout
                )
                session.statementTimeout = timeout
                return session
            }
        } catch let error as AuditLogError {
            throw AuditLogError(.databaseUnavailable, error.reason)
        }
        self.live = session
        self.broken = false
        logger.notice("connected to the audit database again", metadata: ["database": "\(url)"])
    }
}

public import AuditLog
public import Logging
import PostgresNIO

/// Applies `PostgresAuditSchema.migrations` to a database and reads the version it is at.
///
/// All migrations missing from a database run in one transaction under an advisory lock, so a
/// crash mid-way leaves the database as it was, and nodes starting together do not race.
struct PostgresMigrator {
    let session: PostgresSession

    /// The largest applied version (0 for a database never migrated); a database newer than this
    /// binary is refused.
    func currentVersion() async throws -> Int {
        let version = try await self.storedVersion()
        guard version <= PostgresAuditSchema.latestVersion else {
            throw Self.newerSchema(url: self.session.url, version: version)
        }
        return version
    }

    /// The largest applied version as stored, newer than this binary or not (for `db status`).
    func storedVersion() async throws -> Int {
        let rows = try await self.session.rows(
            "SELECT to_regclass('schema_migrations') IS NOT NULL",
            operation: "look for schema_migrations"
        )
        let exists = try self.session.decoding("look for schema_migrations") {
            try rows.first?.decode(Bool.self) ?? false
        }
        return exists ? try await self.appliedVersion() : 0
    }

    /// Brings the database to `PostgresAuditSchema.latestVersion`; returns the versions before and
    /// after. A database newer than this binary is refused, naming both versions, and left as it is.
    @discardableResult
    func migrate() async throws -> (from: Int, to: Int) {
        let url = self.session.url
        // The statements' answers are taken on the connection's event loop, not the cooperative
        // pool (nothing here blocks): a transaction waiting for a busy pool would be ended by the
        // server as idle (idle_in_transaction_session_timeout) and the migration fail for nothing.
        let loop = EventLoopTaskExecutor(self.session.connection.eventLoop)
        return try await withTaskExecutorPreference(loop) { try await self.migrateInTransaction(url: url) }
    }

    private func migrateInTransaction(url: PostgresURL) async throws -> (from: Int, to: Int) {
        try await self.session.transaction(operation: "migrate") {
            try await self.session.run(
                "SELECT pg_advisory_xact_lock(\(PostgresAuditSchema.migrationLockKey))",
                operation: "lock migrations"
            )
            try await self.session.run(
                PostgresQuery(unsafeSQL: PostgresAuditSchema.migrationsTable),
                operation: "create schema_migrations"
            )
            let from = try await self.appliedVersion()
            let latest = PostgresAuditSchema.latestVersion
            guard from <= latest else {
                throw Self.newerSchema(url: url, version: from)
            }
            for migration in PostgresAuditSchema.migrations where migration.version > from {
                for statement in migration.statements {
                    try await self.session.run(
                        PostgresQuery(unsafeSQL: statement),
                        operation: "migration \(migration.version)"
                    )
                }
                try await self.session.run(
                    """
                    INSERT INTO schema_migrations(version, summary)
                    VALUES (\(migration.version), \(migration.summary))
                    """,
                    operation: "record migration \(migration.version)"
                )
            }
            return (from, latest)
        }
    }

    private func appliedVersion() async throws -> Int {
        let rows = try await self.session.rows(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            operation: "read schema version"
        )
        return Int(try self.session.decoding("read schema version") { try rows.first?.decode(Int32.self) ?? 0 })
    }

    static func newerSchema(url: PostgresURL, version: Int) -> AuditLogError {
        AuditLogError(
            .storageFailure,
            "\(url): the audit schema is at version \(version), newer than this binary knows "
                + "(\(PostgresAuditSchema.latestVersion)): it was migrated by a newer medtunnel; "
                + "run that version or a later one (nothing was changed)"
        )
    }
}

/// What `medtunnel db status` prints.
public struct PostgresAuditStatus: Sendable, Hashable {
    /// The version the database is at (0: never migrated).
    public let databaseVersion: Int
    /// The newest version this binary knows.
    public let binaryVersion: Int
    /// Entries in the log; nil when the database has no audit tables yet.
    public let entries: UInt64?
    /// Signed checkpoints stored; nil as `entries`.
    public let checkpoints: Int?
}

extension PostgresAuditStore {
    /// Applies the migrations `url` lacks; returns the versions before and after.
    public static func migrate(
        url: String,
        logger: Logger = Logger(label: "medtunnel.audit.postgres")
    ) async throws -> (from: Int, to: Int) {
        try await PostgresSession.with(try PostgresURL(url), logger: logger) { session in
            try await PostgresMigrator(session: session).migrate()
        }
    }

    /// The database's schema version beside this binary's, and the log's size; changes nothing.
    /// A database newer than this binary still reports its version (that is what the command is
    /// for), with no counts: its tables may no longer mean what this binary reads.
    public static func status(
        url: String,
        logger: Logger = Logger(label: "medtunnel.audit.postgres")
    ) async throws -> PostgresAuditStatus {
        try await PostgresSession.with(try PostgresURL(url), logger: logger) { session in
            try await self.status(session)
        }
    }

    private static func status(_ session: PostgresSession) async throws -> PostgresAuditStatus {
        let latest = PostgresAuditSchema.latestVersion
        let version = try await PostgresMigrator(session: session).storedVersion()
        guard version >= 1, version <= latest else {
            return PostgresAuditStatus(databaseVersion: version, binaryVersion: latest, entries: nil, checkpoints: nil)
        }
        let counts = try await session.rows(
            "SELECT (SELECT coalesce(max(idx) + 1, 0) FROM entry), (SELECT count(*) FROM checkpoint)",
            operation: "count entries"
        )
        let (entries, checkpoints) = try session.decoding("status") {
            guard let row = counts.first else { return (Int64(0), Int64(0)) }
            return try row.decode((Int64, Int64).self)
        }
        return PostgresAuditStatus(
            databaseVersion: version,
            binaryVersion: latest,
            entries: UInt64(entries),
            checkpoints: Int(checkpoints)
        )
    }
}

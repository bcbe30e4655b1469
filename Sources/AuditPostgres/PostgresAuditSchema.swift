/// The audit log's tables on PostgreSQL and the migrations that make them, in order.
///
/// A migration is never edited once released: a change to the schema is a new migration with
/// the next version. The version a database is at is the largest `version` in
/// `schema_migrations`; a database at a version newer than `latestVersion` was migrated by a
/// newer binary and is refused (its tables may mean things this binary does not know).
///
/// Version 1 (the same shapes as the SQLite store, so one verifier and one set of tamper tests
/// read both):
///
///     entry(idx bigint PRIMARY KEY, body bytea, leaf_hash bytea)   -- canonical entry bytes
///     tree_node(id bigint PRIMARY KEY, hash bytea)                 -- id = MerkleNodeID.storageKey
///     checkpoint(size bigint PRIMARY KEY, note text)               -- C2SP signed notes
///     audit_head(id smallint PRIMARY KEY CHECK (id = 1))           -- one row: the appenders' lock
///     audit_append(...)                                            -- a whole append, one statement
///
/// `audit_head` holds no data the log trusts: writers lock its one row (`SELECT … FOR UPDATE`) to
/// serialize appends across processes and nodes, and read the size from `entry` under that lock.
public enum PostgresAuditSchema {
    public struct Migration: Sendable {
        public let version: Int
        public let summary: String
        let statements: [String]
    }

    public static let migrations: [Migration] = [
        Migration(
            version: 1,
            summary: "audit log: entry, tree_node, checkpoint and the audit_head lock row",
            statements: [
                "CREATE TABLE entry(idx bigint PRIMARY KEY CHECK (idx >= 0), body bytea NOT NULL, leaf_hash bytea NOT NULL)",
                "CREATE TABLE tree_node(id bigint PRIMARY KEY, hash bytea NOT NULL)",
                "CREATE TABLE checkpoint(size bigint PRIMARY KEY CHECK (size >= 0), note text NOT NULL)",
                "CREATE TABLE audit_head(id smallint PRIMARY KEY CHECK (id = 1))",
                "INSERT INTO audit_head(id) VALUES (1)",
                Self.appendFunction,
            ]
        )
    ]

    /// An append in one statement, so one round trip to the server (its own transaction): lock the
    /// head row, check the size under the lock, insert the batch. The same steps as
    /// `PostgresAuditStore.appendAtTip`, which must run Swift between read and write and so
    /// cannot use it. Each statement of a volatile function under READ COMMITTED reads a fresh
    /// snapshot, so the size is read after the lock is held. SQLSTATE MT409: another writer
    /// appended first (the store's `.concurrentWriter`).
    static let appendFunction = """
        CREATE FUNCTION audit_append(
            first_index bigint, indices bigint[], bodies bytea[], leaves bytea[],
            node_ids bigint[], node_hashes bytea[], checkpoint_size bigint, checkpoint_note text
        ) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            stored bigint;
        BEGIN
            PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the audit_head row is missing (an edited database?)';
            END IF;
            SELECT coalesce(max(idx) + 1, 0) INTO stored FROM entry;
            IF stored <> first_index THEN
                RAISE EXCEPTION 'holds % entries, this writer expected %', stored, first_index
                    USING ERRCODE = 'MT409';
            END IF;
            INSERT INTO entry(idx, body, leaf_hash) SELECT * FROM unnest(indices, bodies, leaves);
            INSERT INTO tree_node(id, hash) SELECT * FROM unnest(node_ids, node_hashes);
            IF checkpoint_size IS NOT NULL THEN
                INSERT INTO checkpoint(size, note) VALUES (checkpoint_size, checkpoint_note)
                    ON CONFLICT (size) DO NOTHING;
            END IF;
        END
        $$
        """

    /// The newest schema this binary knows.
    public static var latestVersion: Int { self.migrations.last?.version ?? 0 }

    /// The table that records applied migrations; created by the first migration run.
    static let migrationsTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations(
            version integer PRIMARY KEY, summary text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
        """

    /// A constant key for `pg_advisory_xact_lock`: two nodes starting at once migrate one after
    /// the other, the second finding nothing left to do. ("MTAUDIT" in ASCII.)
    static let migrationLockKey: Int64 = 0x4D_5441_5544_4954
}

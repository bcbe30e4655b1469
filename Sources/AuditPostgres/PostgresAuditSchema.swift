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
        ),
        Migration(
            version: 2,
            summary: "gateway nodes: node_lease, lease_owner and their functions",
            statements: Self.leaseStatements
        ),
        Migration(
            version: 3,
            summary: "change requests, the command queue, therapy and pairing, shared by every node",
            statements: Self.changeStatements
        ),
        Migration(
            version: 4,
            summary: "lockouts, their acknowledgements and the pump directory, shared by every node",
            statements: Self.lockoutStatements
        ),
        Migration(
            version: 5,
            summary: "accounts, token revocations, passkeys and pumps' pairing offers, shared by every node",
            statements: Self.identityStatements
        ),
        Migration(
            version: 6,
            summary: "security events, alerts and telemetry, shared by every node",
            statements: Self.eventAndTelemetryStatements
        ),
        Migration(
            version: 7,
            summary: "audit_lock_tip: the head lock and the log's tip in one statement",
            statements: [Self.lockTipFunction]
        ),
    ]

    /// Version 5: who may act (modules Accounts, AccessTokens, PasskeyStore; the same columns as
    /// their `accounts.sqlite`, `tokens.sqlite` and `passkeys.sqlite`). An account's creation or
    /// disable, and a revocation, are written in the same transaction as their audit entry, so
    /// a user disabled or a token revoked on one node is refused by every node from the next
    /// request on. The `pending` columns are there for the shared code's sake: a shared store
    /// never leaves a step pending. `pairing_offer` holds the codes pumps say they show (nonce
    /// and expiry, no secret: the code is signed by the pump), written by the node holding the
    /// pump's session, so that a patient's pairing through any node finds the offer.
    static let identityStatements: [String] = [
        """
        CREATE TABLE pairing_offer(
            pump_serial text NOT NULL, nonce bytea NOT NULL, expires_ms bigint NOT NULL,
            offered_ms bigint NOT NULL, PRIMARY KEY(pump_serial, nonce, expires_ms))
        """,
        "CREATE INDEX pairing_offer_by_expiry ON pairing_offer(expires_ms)",
        """
        CREATE TABLE account(
            id text PRIMARY KEY, role text NOT NULL, attributes text NOT NULL,
            created_ms bigint NOT NULL, created_audit bigint,
            disabled_ms bigint, disabled_audit bigint,
            pending text CHECK (pending IN ('create', 'disable')), pending_floor bigint)
        """,
        """
        CREATE TABLE revoked_token(
            jti text PRIMARY KEY, user_id text NOT NULL, revoked_ms bigint NOT NULL,
            by_id text NOT NULL, by_role text NOT NULL, audit_index bigint)
        """,
        """
        CREATE TABLE revoked_user(
            user_id text PRIMARY KEY, before_ms bigint NOT NULL, revoked_ms bigint NOT NULL,
            by_id text NOT NULL, by_role text NOT NULL, audit_index bigint)
        """,
        """
        CREATE TABLE credential(
            credential_id bytea PRIMARY KEY, user_id text NOT NULL, public_key bytea NOT NULL,
            sign_count bigint NOT NULL, created_ms bigint NOT NULL, last_used_ms bigint)
        """,
        "CREATE INDEX credential_by_user ON credential(user_id)",
        "CREATE TABLE user_handle(user_id text PRIMARY KEY, handle bytea NOT NULL UNIQUE)",
        """
        CREATE TABLE invitation(
            token_hash bytea PRIMARY KEY, user_id text NOT NULL, created_ms bigint NOT NULL,
            expires_ms bigint NOT NULL, used_ms bigint)
        """,
    ]

    /// Version 6: the security event store's tables (module SecurityEvents, the same columns as
    /// its `events.sqlite`; its recovery floor in `event_meta`, as `meta` is the change store's)
    /// and the telemetry store's (module TelemetryStore, the same columns as `gateway.sqlite`).
    /// Integers are `bigint`. An alert's acknowledgement is written in the same transaction as its
    /// audit entry; an event or a raised alert is appended to the log first and its row written
    /// after (a row a crash left out is written by any node's recovery). Telemetry is not
    /// audited: one transaction per batch of the writer.
    static let eventAndTelemetryStatements: [String] = [
        """
        CREATE TABLE event(
            audit_index bigint PRIMARY KEY, time_ms bigint NOT NULL, kind text NOT NULL, reason text,
            pump text, phone text, source text, detail text NOT NULL, count bigint NOT NULL)
        """,
        "CREATE INDEX event_by_time ON event(time_ms)",
        """
        CREATE TABLE alert(
            id text PRIMARY KEY, rule text NOT NULL, action text NOT NULL, subject text NOT NULL,
            subject_value text NOT NULL, count bigint NOT NULL, summary text NOT NULL,
            evidence_json text NOT NULL, raised_ms bigint NOT NULL, audit_index bigint NOT NULL UNIQUE,
            lockout_id text, acknowledged_by text, acknowledged_ms bigint)
        """,
        "CREATE TABLE event_meta(key text PRIMARY KEY, value bigint NOT NULL)",
        """
        CREATE TABLE pumps(
            serial text PRIMARY KEY NOT NULL, firmware text, last_seen_ms bigint NOT NULL, carrier text,
            sessions bigint NOT NULL, resumed_sessions bigint NOT NULL)
        """,
        """
        CREATE TABLE telemetry(
            serial text NOT NULL, sequence bigint NOT NULL, pump_time_ms bigint NOT NULL,
            received_ms bigint NOT NULL, reservoir_mu bigint NOT NULL, basal_mu_per_h bigint NOT NULL,
            glucose_mg_dl bigint NOT NULL, battery_percent bigint NOT NULL, flags bigint NOT NULL, carrier text,
            UNIQUE (serial, sequence))
        """,
    ]

    /// Version 4: the lockout store's tables (module Lockouts, the same columns as its
    /// `lockouts.sqlite`), written in the same transaction as the audit entry of each step, so a
    /// lockout started on one node is in force on every node. Integers are `bigint`. No `meta`:
    /// a shared lockout store keeps no recovery floor (and version 3's `meta` is the change
    /// store's).
    static let lockoutStatements: [String] = [
        """
        CREATE TABLE lockout(
            id text PRIMARY KEY, scope text NOT NULL, reason text NOT NULL, suspend bigint NOT NULL,
            started_by text NOT NULL, started_role text NOT NULL, started_ms bigint NOT NULL,
            started_audit bigint NOT NULL UNIQUE,
            lift_requested_by text, lift_requested_role text, lift_requested_ms bigint,
            lift_requested_audit bigint,
            lifted_by text, lifted_role text, lifted_ms bigint, lifted_audit bigint)
        """,
        """
        CREATE TABLE lockout_ack(
            lockout_id text NOT NULL, serial text NOT NULL, at_ms bigint NOT NULL,
            audit_index bigint NOT NULL, PRIMARY KEY(lockout_id, serial))
        """,
        "CREATE INDEX lockout_ack_by_serial ON lockout_ack(serial)",
        """
        CREATE TABLE pump(
            serial text PRIMARY KEY, patient text, model text, firmware text, updated_ms bigint NOT NULL)
        """,
    ]

    /// Version 3: the change-request store's tables (module ChangeRequests, the same columns as
    /// its `changes.sqlite`), written in the same transaction as the audit entry of each step.
    /// Integers are `bigint` throughout (milliseconds, audit indexes, sequences). `meta` is
    /// there for the shared code's sake; nothing reads a recovery floor on PostgreSQL.
    static let changeStatements: [String] = [
        """
        CREATE TABLE request(
            id text PRIMARY KEY, pump_serial text NOT NULL, requester_id text NOT NULL,
            requester_role text NOT NULL, idempotency_key text NOT NULL, change_json text NOT NULL,
            decision_json text NOT NULL, state text NOT NULL, refusal_code text,
            created_ms bigint NOT NULL, updated_ms bigint NOT NULL, queue_position bigint,
            sequence bigint, expires_ms bigint, approver_id text, integrity_problem text,
            UNIQUE(requester_id, idempotency_key))
        """,
        "CREATE INDEX request_by_pump ON request(pump_serial, created_ms)",
        "CREATE INDEX request_queue ON request(pump_serial, state, queue_position)",
        "CREATE INDEX request_by_state ON request(state)",
        "CREATE UNIQUE INDEX request_sequence ON request(pump_serial, sequence) WHERE sequence IS NOT NULL",
        """
        CREATE TABLE transition(
            request_id text NOT NULL, step bigint NOT NULL, from_state text, to_state text NOT NULL,
            refusal_code text, at_ms bigint NOT NULL, actor_id text NOT NULL, actor_role text NOT NULL,
            audit_index bigint NOT NULL, note text, PRIMARY KEY(request_id, step))
        """,
        "CREATE INDEX transition_by_audit ON transition(audit_index)",
        "CREATE TABLE pump_sequence(pump_serial text PRIMARY KEY, last_sequence bigint NOT NULL)",
        """
        CREATE TABLE pump_therapy(
            pump_serial text NOT NULL, version bigint NOT NULL, prescription_json text NOT NULL,
            model_json text NOT NULL, set_by text NOT NULL, set_by_role text NOT NULL,
            set_ms bigint NOT NULL, audit_index bigint NOT NULL UNIQUE, settings_json text,
            PRIMARY KEY(pump_serial, version))
        """,
        "CREATE TABLE meta(key text PRIMARY KEY, value bigint NOT NULL)",
        """
        CREATE TABLE pump_binding(
            pump_serial text PRIMARY KEY, patient_id text NOT NULL, phone_id text, paired_by text NOT NULL,
            paired_ms bigint NOT NULL, audit_index bigint NOT NULL)
        """,
        "CREATE INDEX pump_binding_by_patient ON pump_binding(patient_id)",
        "CREATE TABLE pairing_nonce(nonce_hash text PRIMARY KEY, pump_serial text NOT NULL, audit_index bigint NOT NULL)",
        """
        CREATE TABLE binding_request(
            pump_serial text PRIMARY KEY, action text NOT NULL, target_patient text, requested_by text NOT NULL,
            requested_role text NOT NULL, requested_ms bigint NOT NULL, audit_index bigint NOT NULL)
        """,
        "CREATE TABLE binding_step(audit_index bigint PRIMARY KEY, pump_serial text NOT NULL, kind text NOT NULL)",
        // What each pump last reported of itself (suspended, reservoir, glucose, battery: value and
        // time), written by the node holding its session so that the others' policy checks see it.
        """
        CREATE TABLE pump_report(
            pump_serial text PRIMARY KEY, suspended bigint, suspended_ms bigint, reservoir bigint, reservoir_ms bigint,
            glucose bigint, glucose_ms bigint, battery bigint, battery_ms bigint, node_id text NOT NULL,
            updated_ms bigint NOT NULL)
        """,
    ]

    /// Version 2: what several gateway nodes share (module NodeLeases, docs/cluster.md).
    ///
    ///     node_lease(node_id text PRIMARY KEY, epoch bigint, expires_at timestamptz, taken_at)
    ///     lease_owner(kind text, subject text, node_id text, node_epoch bigint, epoch bigint,
    ///                 since timestamptz, PRIMARY KEY(kind, subject))
    ///
    /// A node renews its one `node_lease` row; a pump (kind `pump`) or a role (kind `role`) is
    /// owned by a node *under* an epoch of that lease, and only while that lease is live. Every
    /// time a subject changes hands its `epoch` grows: the fencing token a send is checked
    /// against. Expiry is always the database's `clock_timestamp()`, never a node's clock.
    static let leaseStatements: [String] = [
        """
        CREATE TABLE node_lease(
            node_id text PRIMARY KEY, epoch bigint NOT NULL CHECK (epoch >= 0),
            expires_at timestamptz NOT NULL, taken_at timestamptz NOT NULL)
        """,
        """
        CREATE TABLE lease_owner(
            kind text NOT NULL, subject text NOT NULL, node_id text, node_epoch bigint,
            epoch bigint NOT NULL CHECK (epoch >= 0), since timestamptz NOT NULL,
            PRIMARY KEY (kind, subject))
        """,
        // A new epoch for the node, unless an earlier run of the same node id still holds a live
        // lease: then how long it has left (two processes must never share a node id's lease).
        """
        CREATE FUNCTION node_acquire(node text, lease_ms bigint)
        RETURNS TABLE(out_epoch bigint, out_remaining_ms bigint) LANGUAGE plpgsql AS $$
        DECLARE
            cur node_lease%ROWTYPE;
        BEGIN
            INSERT INTO node_lease(node_id, epoch, expires_at, taken_at)
                VALUES (node, 0, '-infinity', clock_timestamp()) ON CONFLICT (node_id) DO NOTHING;
            SELECT * INTO cur FROM node_lease l WHERE l.node_id = node FOR UPDATE;
            IF cur.expires_at > clock_timestamp() THEN
                RETURN QUERY SELECT NULL::bigint,
                    greatest(1, ceil(extract(epoch FROM cur.expires_at - clock_timestamp()) * 1000))::bigint;
                RETURN;
            END IF;
            UPDATE node_lease l SET epoch = cur.epoch + 1,
                expires_at = clock_timestamp() + lease_ms * interval '1 millisecond', taken_at = clock_timestamp()
                WHERE l.node_id = node;
            RETURN QUERY SELECT cur.epoch + 1, NULL::bigint;
        END
        $$
        """,
        // Takes a subject under a live node lease: kept (same epoch) when already this node's
        // under this node epoch; taken (next epoch) when free, or its owner's node lease ended or
        // was renewed under another epoch (the owner restarted); else names the live owner.
        // SQLSTATE MT410: the caller's own node lease is not live.
        """
        CREATE FUNCTION lease_acquire(k text, s text, node text, n_epoch bigint)
        RETURNS TABLE(out_owned boolean, out_epoch bigint, out_holder text) LANGUAGE plpgsql AS $$
        DECLARE
            cur lease_owner%ROWTYPE;
        BEGIN
            PERFORM 1 FROM node_lease l
                WHERE l.node_id = node AND l.epoch = n_epoch AND l.expires_at > clock_timestamp();
            IF NOT FOUND THEN
                RAISE EXCEPTION 'node % holds no live lease under epoch %', node, n_epoch USING ERRCODE = 'MT410';
            END IF;
            INSERT INTO lease_owner(kind, subject, node_id, node_epoch, epoch, since)
                VALUES (k, s, NULL, NULL, 0, clock_timestamp()) ON CONFLICT (kind, subject) DO NOTHING;
            SELECT * INTO cur FROM lease_owner o WHERE o.kind = k AND o.subject = s FOR UPDATE;
            IF cur.node_id = node AND cur.node_epoch = n_epoch THEN
                RETURN QUERY SELECT true, cur.epoch, node;
                RETURN;
            END IF;
            IF cur.node_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM node_lease l
                WHERE l.node_id = cur.node_id AND l.epoch = cur.node_epoch AND l.expires_at > clock_timestamp()
            ) THEN
                RETURN QUERY SELECT false, cur.epoch, cur.node_id;
                RETURN;
            END IF;
            UPDATE lease_owner o SET node_id = node, node_epoch = n_epoch, epoch = cur.epoch + 1,
                since = clock_timestamp() WHERE o.kind = k AND o.subject = s;
            RETURN QUERY SELECT true, cur.epoch + 1, node;
        END
        $$
        """,
    ]

    /// The head lock and the tip a writer appends at, in one statement: a step of a shared store
    /// holds the lock, which every node's appends wait for, for as many round trips as it makes,
    /// so the four reads of the tip (size, right edge, last checkpoint) are done here, after the
    /// lock. The right edge is the decomposition of `0..<size` (`MerkleNodeID.decompose`): one
    /// complete subtree per bit of the size, largest first, a leaf's hash from `entry`, an
    /// interior node's from `tree_node` under its storage key `(last leaf) * 64 + level`. A
    /// missing node is refused with SQLSTATE MT404, naming it (the store's `.nodeMismatch`).
    static let lockTipFunction = """
        CREATE FUNCTION audit_lock_tip(
            OUT tip_size bigint, OUT edge_hashes bytea[], OUT checkpointed bigint
        ) LANGUAGE plpgsql AS $$
        DECLARE
            start bigint := 0;
            lvl integer;
            node_hash bytea;
        BEGIN
            PERFORM 1 FROM audit_head WHERE id = 1 FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the audit_head row is missing (an edited database?)';
            END IF;
            SELECT coalesce(max(idx) + 1, 0) INTO tip_size FROM entry;
            SELECT coalesce(max(size), 0) INTO checkpointed FROM checkpoint;
            edge_hashes := '{}';
            FOR lvl IN REVERSE 62..0 LOOP
                IF (tip_size >> lvl) & 1 = 1 THEN
                    IF lvl = 0 THEN
                        SELECT leaf_hash INTO node_hash FROM entry WHERE idx = start;
                    ELSE
                        SELECT hash INTO node_hash FROM tree_node
                            WHERE id = (start + (1::bigint << lvl) - 1) * 64 + lvl;
                    END IF;
                    IF node_hash IS NULL THEN
                        RAISE EXCEPTION 'node(level %, index %) is missing from the store', lvl, start >> lvl
                            USING ERRCODE = 'MT404';
                    END IF;
                    edge_hashes := array_append(edge_hashes, node_hash);
                    start := start + (1::bigint << lvl);
                END IF;
            END LOOP;
        END
        $$
        """

    /// An append in one statement, so one round trip to the server (its own transaction, or
    /// the last statement of a caller's that took the lock and read the tip with
    /// `audit_lock_tip`): lock the head row, check the size under the lock, insert the batch.
    /// Each statement of a volatile function under READ COMMITTED reads a fresh snapshot, so the
    /// size is read after the lock is held. SQLSTATE MT409: another writer
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

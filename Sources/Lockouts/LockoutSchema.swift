import SQLiteStore

/// The tables of `lockouts.sqlite` (or of the shared PostgreSQL database, migration 4 of
/// `PostgresAuditSchema`: the same tables and columns) and the statements on them, in the SQL
/// both engines speak.
enum LockoutSchema {
    static let floorKey = "recovery_floor"

    static func open(path: String) throws -> SQLiteConnection {
        try SQLiteConnection.openPrivate(
            path: path,
            schemaVersion: LockoutStore.schemaVersion,
            schema: """
                CREATE TABLE IF NOT EXISTS lockout(
                    id TEXT PRIMARY KEY, scope TEXT NOT NULL, reason TEXT NOT NULL, suspend INTEGER NOT NULL,
                    started_by TEXT NOT NULL, started_role TEXT NOT NULL, started_ms INTEGER NOT NULL,
                    started_audit INTEGER NOT NULL UNIQUE,
                    lift_requested_by TEXT, lift_requested_role TEXT, lift_requested_ms INTEGER,
                    lift_requested_audit INTEGER,
                    lifted_by TEXT, lifted_role TEXT, lifted_ms INTEGER, lifted_audit INTEGER);
                CREATE TABLE IF NOT EXISTS lockout_ack(
                    lockout_id TEXT NOT NULL, serial TEXT NOT NULL, at_ms INTEGER NOT NULL,
                    audit_index INTEGER NOT NULL, PRIMARY KEY(lockout_id, serial));
                CREATE INDEX IF NOT EXISTS lockout_ack_by_serial ON lockout_ack(serial);
                CREATE TABLE IF NOT EXISTS pump(
                    serial TEXT PRIMARY KEY, patient TEXT, model TEXT, firmware TEXT, updated_ms INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                """,
            // A view of the audit log, rolled forward by `recover()` after a power loss.
            durability: .walNormal
        )
    }

    // MARK: Lockouts

    private static let columns = """
        id, scope, reason, suspend, started_by, started_role, started_ms, started_audit,
        lift_requested_by, lift_requested_role, lift_requested_ms, lift_requested_audit,
        lifted_by, lifted_role, lifted_ms, lifted_audit
        """

    static func loadLockouts(_ connection: any SQLDatabase) throws -> [Lockout] {
        try loadLockouts(connection, id: nil)
    }

    /// The one lockout `id` as stored now (nil: none).
    static func loadLockout(_ connection: any SQLDatabase, _ id: LockoutID) throws -> Lockout? {
        try loadLockouts(connection, id: id).first
    }

    private static func loadLockouts(_ connection: any SQLDatabase, id: LockoutID?) throws -> [Lockout] {
        let select = try connection.prepare(
            "SELECT \(columns) FROM lockout" + (id == nil ? "" : " WHERE id = ?") + " ORDER BY started_audit"
        )
        if let id { try select.bind(id.rawValue, at: 1) }
        var lockouts: [Lockout] = []
        while try select.step() {
            guard let id = LockoutID(select.text(0)), let scope = try? LockoutScope(parsing: select.text(1)) else {
                throw SQLiteError(resultCode: 1, reason: "lockout row '\(select.text(0))' is malformed")
            }
            func step(_ first: Int32) -> LockoutStep? {
                guard !select.isNull(first) else { return nil }
                return LockoutStep(
                    actorID: select.text(first),
                    actorRole: select.text(first + 1),
                    atMilliseconds: select.int64(first + 2),
                    auditIndex: UInt64(max(0, select.int64(first + 3)))
                )
            }
            lockouts.append(
                Lockout(
                    id: id,
                    scope: scope,
                    reason: select.text(2),
                    suspendDelivery: select.int64(3) != 0,
                    started: step(4)!,
                    liftRequested: step(8),
                    lifted: step(12)
                )
            )
        }
        return lockouts
    }

    static func insert(_ connection: any SQLDatabase, _ lockout: Lockout) throws {
        let insert = try connection.prepare(
            "INSERT INTO lockout(\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        try insert.bind(lockout.id.rawValue, at: 1)
        try insert.bind(lockout.scope.description, at: 2)
        try insert.bind(lockout.reason, at: 3)
        try insert.bind(lockout.suspendDelivery ? 1 : 0, at: 4)
        try bind(lockout.started, insert, from: 5)
        try bind(lockout.liftRequested, insert, from: 9)
        try bind(lockout.lifted, insert, from: 13)
        try insert.run()
    }

    static func update(_ connection: any SQLDatabase, _ lockout: Lockout) throws {
        let update = try connection.prepare(
            """
            UPDATE lockout SET lift_requested_by = ?, lift_requested_role = ?, lift_requested_ms = ?,
                lift_requested_audit = ?, lifted_by = ?, lifted_role = ?, lifted_ms = ?, lifted_audit = ?
            WHERE id = ?
            """
        )
        try bind(lockout.liftRequested, update, from: 1)
        try bind(lockout.lifted, update, from: 5)
        try update.bind(lockout.id.rawValue, at: 9)
        try update.run()
    }

    private static func bind(_ step: LockoutStep?, _ statement: any SQLStatement, from first: Int32) throws {
        guard let step else {
            for offset in 0..<Int32(4) { try statement.bindNull(at: first + offset) }
            return
        }
        try statement.bind(step.actorID, at: first)
        try statement.bind(step.actorRole, at: first + 1)
        try statement.bind(step.atMilliseconds, at: first + 2)
        try statement.bind(Int64(clamping: step.auditIndex), at: first + 3)
    }

    // MARK: Acknowledgements

    static func insertAcknowledgement(
        _ connection: any SQLDatabase,
        _ id: LockoutID,
        serial: String,
        at: Int64,
        auditIndex: UInt64
    ) throws {
        let insert = try connection.prepare(
            "INSERT INTO lockout_ack(lockout_id, serial, at_ms, audit_index) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        try insert.bind(id.rawValue, at: 1)
        try insert.bind(serial, at: 2)
        try insert.bind(at, at: 3)
        try insert.bind(Int64(clamping: auditIndex), at: 4)
        try insert.run()
    }

    static func acknowledgements(_ connection: any SQLDatabase, _ id: LockoutID) throws -> [String: Int64] {
        let select = try connection.prepare("SELECT serial, at_ms FROM lockout_ack WHERE lockout_id = ?")
        try select.bind(id.rawValue, at: 1)
        var found: [String: Int64] = [:]
        while try select.step() { found[select.text(0)] = select.int64(1) }
        return found
    }

    static func hasAcknowledgement(_ connection: any SQLDatabase, _ serial: String) throws -> Bool {
        let select = try connection.prepare("SELECT 1 FROM lockout_ack WHERE serial = ? LIMIT 1")
        try select.bind(serial, at: 1)
        return try select.step()
    }

    // MARK: Pumps

    static func loadPumps(_ connection: any SQLDatabase) throws -> [PumpAttributes] {
        let select = try connection.prepare("SELECT serial, patient, model, firmware FROM pump")
        var pumps: [PumpAttributes] = []
        while try select.step() {
            pumps.append(
                PumpAttributes(
                    serial: select.text(0),
                    patient: select.isNull(1) ? nil : select.text(1),
                    model: select.isNull(2) ? nil : select.text(2),
                    firmware: select.isNull(3) ? nil : select.text(3)
                )
            )
        }
        return pumps
    }

    static func upsertPump(_ connection: any SQLDatabase, _ pump: PumpAttributes, now: Int64) throws {
        let upsert = try connection.prepare(
            """
            INSERT INTO pump(serial, patient, model, firmware, updated_ms) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(serial) DO UPDATE SET patient = excluded.patient, model = excluded.model,
                firmware = excluded.firmware, updated_ms = excluded.updated_ms
            """
        )
        try upsert.bind(pump.serial, at: 1)
        for (offset, value) in [pump.patient, pump.model, pump.firmware].enumerated() {
            if let value {
                try upsert.bind(value, at: Int32(offset + 2))
            } else {
                try upsert.bindNull(at: Int32(offset + 2))
            }
        }
        try upsert.bind(now, at: 5)
        try upsert.run()
    }

    // MARK: Pump sequences (shared database only)

    /// Takes the pump's next command sequence in the change store's `pump_sequence` (the same
    /// database on PostgreSQL), inside a transaction holding the audit log's head lock: the
    /// change store's `markSent` checks its sequence under that same lock, so no number is
    /// given twice, whichever node sends.
    static func takeSequence(_ connection: any SQLDatabase, serial: String) throws -> UInt64 {
        // One statement that increments the row it locks: a counter raised meanwhile outside the
        // head lock (a pump's hello reporting a higher sequence) is built on, never undercut.
        let increment = try connection.prepare(
            """
            INSERT INTO pump_sequence(pump_serial, last_sequence) VALUES (?, 1)
            ON CONFLICT(pump_serial) DO UPDATE SET last_sequence = pump_sequence.last_sequence + 1
            """
        )
        try increment.bind(serial, at: 1)
        try increment.run()
        let select = try connection.prepare("SELECT last_sequence FROM pump_sequence WHERE pump_serial = ?")
        try select.bind(serial, at: 1)
        guard try select.step() else {
            throw SQLiteError(resultCode: 1, reason: "pump_sequence has no row for \(serial) after its increment")
        }
        return UInt64(max(1, select.int64(0)))
    }

    /// Raises the pump's last sequence in `pump_sequence` to at least `sequence`; never lowers it.
    static func raiseSequence(_ connection: any SQLDatabase, serial: String, to sequence: UInt64) throws {
        let upsert = try connection.prepare(
            """
            INSERT INTO pump_sequence(pump_serial, last_sequence) VALUES (?, ?)
            ON CONFLICT(pump_serial) DO UPDATE SET last_sequence = excluded.last_sequence
            WHERE excluded.last_sequence > pump_sequence.last_sequence
            """
        )
        try upsert.bind(serial, at: 1)
        try upsert.bind(Int64(clamping: sequence), at: 2)
        try upsert.run()
    }

    // MARK: Recovery floor

    static func floor(_ connection: any SQLDatabase) throws -> UInt64 {
        let select = try connection.prepare("SELECT value FROM meta WHERE key = ?")
        try select.bind(floorKey, at: 1)
        return try select.step() ? UInt64(max(0, select.int64(0))) : 0
    }

    static func raiseFloor(_ connection: any SQLDatabase, to value: UInt64) throws {
        let upsert = try connection.prepare(
            """
            INSERT INTO meta(key, value) VALUES (?, ?)
            ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE excluded.value > meta.value
            """
        )
        try upsert.bind(floorKey, at: 1)
        try upsert.bind(Int64(clamping: value), at: 2)
        try upsert.run()
    }
}

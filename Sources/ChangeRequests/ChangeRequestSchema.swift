import Foundation
import SQLiteStore
import TherapyJSON
import TherapyModel

/// The tables of `changes.sqlite` (schema version 1) and how rows become values.
///
///     request(id TEXT PRIMARY KEY, pump_serial, requester_id, requester_role, idempotency_key,
///             change_json,            -- canonical JSON of the change (TherapyJSON.encode)
///             decision_json,          -- {"decision": …, "reasons": [{"code", "message"}]}
///             state, refusal_code, created_ms, updated_ms,
///             queue_position,         -- audit index of the step into `queued`: FIFO order
///             sequence,               -- per-pump sequence, set when sent; UNIQUE per pump
///             expires_ms, approver_id,
///             integrity_problem,      -- set by recovery: never deliver
///             UNIQUE(requester_id, idempotency_key))
///     transition(request_id, step, from_state, to_state, refusal_code, at_ms, actor_id, actor_role,
///                audit_index)         -- history; audit_index indexed (recovery looks it up)
///     pump_sequence(pump_serial PRIMARY KEY, last_sequence)   -- never decreases
///     pump_therapy(pump_serial, version, prescription_json, model_json, set_by, set_by_role, set_ms,
///                  audit_index UNIQUE, settings_json,   -- NULL: no settings given
///                  PRIMARY KEY(pump_serial, version))
///     meta(key PRIMARY KEY, value)     -- recovery_floor
///     pump_binding, pairing_nonce, binding_request, binding_step: see ``pairingSchema``
enum ChangeRequestSchema {
    static let recoveryFloorKey = "recovery_floor"

    static let unfinishedStates: [ChangeRequestState] = [
        .pendingApproval, .approved, .accepted, .queued, .sent, .uncertain,
    ]
    static var unfinishedStateList: String { unfinishedStates.map { "'\($0.name)'" }.joined(separator: ", ") }

    static func open(path: String) throws -> SQLiteConnection {
        do {
            let connection = try SQLiteConnection.openPrivate(
                path: path,
                schemaVersion: ChangeRequestStore.schemaVersion,
                schema: """
                    CREATE TABLE IF NOT EXISTS request(
                        id TEXT PRIMARY KEY, pump_serial TEXT NOT NULL, requester_id TEXT NOT NULL,
                        requester_role TEXT NOT NULL, idempotency_key TEXT NOT NULL, change_json TEXT NOT NULL,
                        decision_json TEXT NOT NULL, state TEXT NOT NULL, refusal_code TEXT,
                        created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, queue_position INTEGER,
                        sequence INTEGER, expires_ms INTEGER, approver_id TEXT, integrity_problem TEXT,
                        UNIQUE(requester_id, idempotency_key));
                    CREATE INDEX IF NOT EXISTS request_by_pump ON request(pump_serial, created_ms);
                    CREATE INDEX IF NOT EXISTS request_queue ON request(pump_serial, state, queue_position);
                    CREATE UNIQUE INDEX IF NOT EXISTS request_sequence ON request(pump_serial, sequence)
                        WHERE sequence IS NOT NULL;
                    CREATE TABLE IF NOT EXISTS transition(
                        request_id TEXT NOT NULL, step INTEGER NOT NULL, from_state TEXT, to_state TEXT NOT NULL,
                        refusal_code TEXT, at_ms INTEGER NOT NULL, actor_id TEXT NOT NULL, actor_role TEXT NOT NULL,
                        audit_index INTEGER NOT NULL, note TEXT, PRIMARY KEY(request_id, step));
                    CREATE INDEX IF NOT EXISTS transition_by_audit ON transition(audit_index);
                    CREATE TABLE IF NOT EXISTS pump_sequence(pump_serial TEXT PRIMARY KEY, last_sequence INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS pump_therapy(
                        pump_serial TEXT NOT NULL, version INTEGER NOT NULL, prescription_json TEXT NOT NULL,
                        model_json TEXT NOT NULL, set_by TEXT NOT NULL, set_by_role TEXT NOT NULL,
                        set_ms INTEGER NOT NULL, audit_index INTEGER NOT NULL UNIQUE, settings_json TEXT,
                        PRIMARY KEY(pump_serial, version));
                    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                    """,
                // Rebuilt from the audit log after a power loss (see ChangeRequestStore, "Durability").
                durability: .walNormal
            )
            // Stores made before transitions carried a note gain the column (nothing else changed).
            let info = try connection.prepare("SELECT 1 FROM pragma_table_info('transition') WHERE name = 'note'")
            if !(try info.step()) {
                try connection.execute("ALTER TABLE transition ADD COLUMN note TEXT")
            }
            // Stores made before pairing gain its tables (nothing else changed).
            try connection.execute(pairingSchema)
            return connection
        } catch let error as SQLiteError {
            throw ChangeRequestError(.storageFailure, "\(path): \(error.reason)")
        }
    }

    /// The pumps' bindings to their patients (`ChangeRequestStore+Pairing.swift`), each row
    /// written with the audit entry that made it:
    ///
    ///     pump_binding(pump_serial PRIMARY KEY, patient_id, phone_id, paired_by, paired_ms,
    ///                  audit_index)       -- the current binding; gone when unpaired
    ///     pairing_nonce(nonce_hash PRIMARY KEY, pump_serial, audit_index)   -- codes used, never reused
    ///     binding_request(pump_serial PRIMARY KEY, action, target_patient, requested_by,
    ///                     requested_role, requested_ms, audit_index)   -- an unpair or transfer
    ///                                        waiting for its second party
    ///     binding_step(audit_index PRIMARY KEY, pump_serial, kind)   -- every binding entry applied
    ///                                        (recovery looks it up)
    static let pairingSchema = """
        CREATE TABLE IF NOT EXISTS pump_binding(
            pump_serial TEXT PRIMARY KEY, patient_id TEXT NOT NULL, phone_id TEXT, paired_by TEXT NOT NULL,
            paired_ms INTEGER NOT NULL, audit_index INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS pump_binding_by_patient ON pump_binding(patient_id);
        CREATE TABLE IF NOT EXISTS pairing_nonce(
            nonce_hash TEXT PRIMARY KEY, pump_serial TEXT NOT NULL, audit_index INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS binding_request(
            pump_serial TEXT PRIMARY KEY, action TEXT NOT NULL, target_patient TEXT, requested_by TEXT NOT NULL,
            requested_role TEXT NOT NULL, requested_ms INTEGER NOT NULL, audit_index INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS binding_step(
            audit_index INTEGER PRIMARY KEY, pump_serial TEXT NOT NULL, kind TEXT NOT NULL);
        """

    // MARK: Meta

    static func meta(_ connection: any SQLDatabase, _ key: String) throws -> UInt64? {
        let select = try connection.prepare("SELECT value FROM meta WHERE key = ?")
        try select.bind(key, at: 1)
        return try select.step() ? UInt64(max(0, select.int64(0))) : nil
    }

    static func setMeta(_ connection: any SQLDatabase, _ key: String, _ value: UInt64) throws {
        let upsert = try connection.prepare(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        )
        try upsert.bind(key, at: 1)
        try upsert.bind(Int64(clamping: value), at: 2)
        try upsert.run()
    }

    // MARK: Requests

    static func loadRequest(_ connection: any SQLDatabase, _ id: ChangeRequestID) throws -> ChangeRequest? {
        try loadRequests(connection, where: "id = ?", bindings: [.text(id.rawValue)]).first
    }

    static func loadRequests(
        _ connection: any SQLDatabase,
        where condition: String,
        bindings: [SQLiteValue]
    ) throws -> [ChangeRequest] {
        let select = try connection.prepare(
            """
            SELECT id, pump_serial, requester_id, requester_role, idempotency_key, change_json, decision_json,
                   state, refusal_code, created_ms, updated_ms, sequence, expires_ms, approver_id, integrity_problem
            FROM request WHERE \(condition)
            """
        )
        for (index, value) in bindings.enumerated() {
            try select.bind(value, at: Int32(index + 1))
        }
        var requests: [ChangeRequest] = []
        while try select.step() {
            requests.append(try decodeRequest(select, connection: connection))
        }
        return requests
    }

    private static func decodeRequest(_ row: any SQLStatement, connection: any SQLDatabase) throws -> ChangeRequest {
        let rawID = row.text(0)
        guard let id = ChangeRequestID(rawID) else { throw malformed(rawID, "id") }
        let changeJSON = row.text(5)
        guard let change = try? TherapyJSON.change(from: Data(changeJSON.utf8)) else {
            throw malformed(rawID, "change")
        }
        guard let body = try? JSONDecoder().decode(ChangeRequestEvent.DecisionBody.self, from: Data(row.text(6).utf8)),
            let decision = body.value
        else { throw malformed(rawID, "decision") }
        guard let state = ChangeRequestState(name: row.text(7), refusal: row.isNull(8) ? nil : row.text(8)) else {
            throw malformed(rawID, "state")
        }
        return ChangeRequest(
            id: id,
            pumpSerial: row.text(1),
            requesterID: row.text(2),
            requesterRole: row.text(3),
            idempotencyKey: row.text(4),
            change: change,
            changeJSON: changeJSON,
            decision: decision,
            state: state,
            createdAt: Timestamp(millisecondsSinceEpoch: row.int64(9)),
            updatedAt: Timestamp(millisecondsSinceEpoch: row.int64(10)),
            expiresAt: row.isNull(12) ? nil : Timestamp(millisecondsSinceEpoch: row.int64(12)),
            sequence: row.isNull(11) ? nil : UInt64(row.int64(11)),
            approverID: row.isNull(13) ? nil : row.text(13),
            integrityProblem: row.isNull(14) ? nil : row.text(14),
            history: try loadHistory(connection, id)
        )
    }

    private static func loadHistory(_ connection: any SQLDatabase, _ id: ChangeRequestID) throws -> [ChangeTransition] {
        let select = try connection.prepare(
            """
            SELECT from_state, to_state, refusal_code, at_ms, actor_id, actor_role, audit_index, note
            FROM transition WHERE request_id = ? ORDER BY step
            """
        )
        try select.bind(id.rawValue, at: 1)
        var history: [ChangeTransition] = []
        while try select.step() {
            let refusal = select.isNull(2) ? nil : select.text(2)
            let from = select.isNull(0) ? nil : ChangeRequestState(name: select.text(0), refusal: refusal)
            guard let to = ChangeRequestState(name: select.text(1), refusal: refusal) else {
                throw malformed(id.rawValue, "history")
            }
            history.append(
                ChangeTransition(
                    from: from,
                    to: to,
                    at: Timestamp(millisecondsSinceEpoch: select.int64(3)),
                    actor: ChangeActor(id: select.text(4), role: select.text(5)),
                    auditIndex: UInt64(select.int64(6)),
                    note: select.isNull(7) ? nil : select.text(7)
                )
            )
        }
        return history
    }

    static func hasTransition(_ connection: any SQLDatabase, auditIndex: UInt64) throws -> Bool {
        let select = try connection.prepare("SELECT 1 FROM transition WHERE audit_index = ? LIMIT 1")
        try select.bind(Int64(auditIndex), at: 1)
        return try select.step()
    }

    /// Whether any request of `serial` is sent or uncertain (a command not yet settled).
    static func hasUnsettledCommand(_ connection: any SQLDatabase, serial: String) throws -> Bool {
        let select = try connection.prepare(
            "SELECT 1 FROM request WHERE pump_serial = ? AND state IN ('sent', 'uncertain') LIMIT 1"
        )
        try select.bind(serial, at: 1)
        return try select.step()
    }

    static func openRequestPumps(_ connection: any SQLDatabase, includingUncertain: Bool = false) throws -> [String] {
        let uncertain = includingUncertain ? ", 'uncertain'" : ""
        let select = try connection.prepare(
            """
            SELECT DISTINCT pump_serial FROM request
            WHERE state IN ('pending_approval', 'approved', 'accepted', 'queued'\(uncertain)) ORDER BY pump_serial
            """
        )
        var serials: [String] = []
        while try select.step() { serials.append(select.text(0)) }
        return serials
    }

    static func lastSequence(_ connection: any SQLDatabase, serial: String) throws -> UInt64 {
        let select = try connection.prepare("SELECT last_sequence FROM pump_sequence WHERE pump_serial = ?")
        try select.bind(serial, at: 1)
        return try select.step() ? UInt64(max(0, select.int64(0))) : 0
    }

    /// Raises the pump's last sequence to at least `sequence`; never lowers it.
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

    static func malformed(_ id: String, _ column: String) -> ChangeRequestError {
        ChangeRequestError(.storageFailure, "change request \(id): stored \(column) is malformed")
    }
}

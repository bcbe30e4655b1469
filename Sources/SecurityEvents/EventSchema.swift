import AnomalyRules
import Foundation
import SQLiteStore

/// The tables of `events.sqlite` and the statements on them, in the SQL both engines speak: the
/// same code reads and writes PostgreSQL's copy of these tables (`PostgresAuditSchema` version 6,
/// where the meta table is `event_meta`: `meta` there is the change store's).
enum EventSchema {
    static func open(path: String) throws -> SQLiteConnection {
        try SQLiteConnection.openPrivate(
            path: path,
            schemaVersion: SecurityEventStore.schemaVersion,
            schema: """
                CREATE TABLE IF NOT EXISTS event(
                    audit_index INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, kind TEXT NOT NULL, reason TEXT,
                    pump TEXT, phone TEXT, source TEXT, detail TEXT NOT NULL, count INTEGER NOT NULL);
                CREATE INDEX IF NOT EXISTS event_by_time ON event(time_ms);
                CREATE TABLE IF NOT EXISTS alert(
                    id TEXT PRIMARY KEY, rule TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
                    subject_value TEXT NOT NULL, count INTEGER NOT NULL, summary TEXT NOT NULL,
                    evidence_json TEXT NOT NULL, raised_ms INTEGER NOT NULL, audit_index INTEGER NOT NULL UNIQUE,
                    lockout_id TEXT, acknowledged_by TEXT, acknowledged_ms INTEGER);
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                """,
            durability: .walNormal
        )
    }

    static func insertEvent(
        _ connection: any SQLDatabase,
        _ record: SecurityEventRecord,
        time: Int64,
        pump: String?,
        auditIndex: UInt64
    ) throws {
        let insert = try connection.prepare(
            """
            INSERT INTO event(audit_index, time_ms, kind, reason, pump, phone, source, detail, count)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (audit_index) DO NOTHING
            """
        )
        try insert.bind(Int64(clamping: auditIndex), at: 1)
        try insert.bind(time, at: 2)
        try insert.bind(record.event, at: 3)
        try bind(record.reason.isEmpty ? nil : record.reason, insert, 4)
        try bind(pump, insert, 5)
        try bind(record.phone, insert, 6)
        try bind(record.source, insert, 7)
        try insert.bind(record.detail, at: 8)
        try insert.bind(Int64(record.count ?? 1), at: 9)
        try insert.run()
    }

    static func events(
        _ connection: any SQLDatabase,
        since: Int64?,
        kind: String?,
        pump: String?,
        phone: String?,
        limit: Int
    ) throws -> [StoredSecurityEvent] {
        var conditions: [String] = []
        var values: [SQLiteValue] = []
        if let since {
            conditions.append("time_ms >= ?")
            values.append(.integer(since))
        }
        for (column, value) in [("kind", kind), ("pump", pump), ("phone", phone)] {
            guard let value else { continue }
            conditions.append("\(column) = ?")
            values.append(.text(value))
        }
        let clause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let select = try connection.prepare(
            """
            SELECT audit_index, time_ms, kind, reason, pump, phone, source, detail, count FROM event \(clause)
            ORDER BY audit_index DESC LIMIT ?
            """
        )
        for (position, value) in values.enumerated() { try select.bind(value, at: Int32(position + 1)) }
        try select.bind(Int64(max(1, limit)), at: Int32(values.count + 1))
        var events: [StoredSecurityEvent] = []
        while try select.step() {
            events.append(
                StoredSecurityEvent(
                    auditIndex: UInt64(select.int64(0)),
                    timeMilliseconds: select.int64(1),
                    kind: select.text(2),
                    reason: text(select, 3),
                    pump: text(select, 4),
                    phone: text(select, 5),
                    source: text(select, 6),
                    detail: select.text(7),
                    count: Int(select.int64(8))
                )
            )
        }
        return events
    }

    // MARK: Alerts

    static func apply(_ connection: any SQLDatabase, _ record: AlertRecord, actor: String, auditIndex: UInt64) throws {
        if record.op == "acknowledged" {
            let update = try connection.prepare(
                "UPDATE alert SET acknowledged_by = ?, acknowledged_ms = ? WHERE id = ? AND acknowledged_by IS NULL"
            )
            try update.bind(actor, at: 1)
            try update.bind(record.at, at: 2)
            try update.bind(record.alertId, at: 3)
            try update.run()
            return
        }
        let insert = try connection.prepare(
            """
            INSERT INTO alert(id, rule, action, subject, subject_value, count, summary, evidence_json,
                raised_ms, audit_index, lockout_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """
        )
        try insert.bind(record.alertId, at: 1)
        try insert.bind(record.rule ?? "", at: 2)
        try insert.bind(record.action ?? "alert", at: 3)
        try insert.bind(record.subject ?? "pump", at: 4)
        try insert.bind(record.subjectValue ?? "", at: 5)
        try insert.bind(Int64(record.count ?? 0), at: 6)
        try insert.bind(record.summary ?? "", at: 7)
        let evidence = try JSONEncoder().encode(record.evidence ?? [])
        try insert.bind(String(decoding: evidence, as: UTF8.self), at: 8)
        try insert.bind(record.at, at: 9)
        try insert.bind(Int64(clamping: auditIndex), at: 10)
        try bind(record.lockoutId, insert, 11)
        try insert.run()
    }

    private static let alertColumns = """
        id, rule, action, subject, subject_value, count, summary, evidence_json, raised_ms, audit_index, lockout_id,
        acknowledged_by, acknowledged_ms
        """

    static func alerts(_ connection: any SQLDatabase, openOnly: Bool, limit: Int) throws -> [Alert] {
        let select = try connection.prepare(
            """
            SELECT \(alertColumns) FROM alert \(openOnly ? "WHERE acknowledged_by IS NULL" : "")
            ORDER BY audit_index DESC LIMIT ?
            """
        )
        try select.bind(Int64(max(1, limit)), at: 1)
        var alerts: [Alert] = []
        while try select.step() { alerts.append(alert(select)) }
        return alerts
    }

    static func alert(_ connection: any SQLDatabase, _ id: String) throws -> Alert? {
        let select = try connection.prepare("SELECT \(alertColumns) FROM alert WHERE id = ?")
        try select.bind(id, at: 1)
        return try select.step() ? alert(select) : nil
    }

    private static func alert(_ select: any SQLStatement) -> Alert {
        let evidence =
            (try? JSONDecoder().decode([AlertRecord.Evidence].self, from: Data(select.text(7).utf8))) ?? []
        return Alert(
            id: select.text(0),
            rule: select.text(1),
            action: RuleAction(rawValue: select.text(2)) ?? .alert,
            subject: RuleSubject(rawValue: select.text(3)) ?? .pump,
            subjectValue: select.text(4),
            count: Int(select.int64(5)),
            summary: select.text(6),
            evidence: evidence,
            raisedAtMilliseconds: select.int64(8),
            auditIndex: UInt64(select.int64(9)),
            lockoutID: text(select, 10),
            acknowledgedBy: text(select, 11),
            acknowledgedAtMilliseconds: select.isNull(12) ? nil : select.int64(12)
        )
    }

    // MARK: Floor and helpers

    /// The recovery floor's table: `meta` in `events.sqlite`, `event_meta` on PostgreSQL (where
    /// `meta` is the change store's).
    static func metaTable(shared: Bool) -> String { shared ? "event_meta" : "meta" }

    static func floor(_ connection: any SQLDatabase, meta: String) throws -> UInt64 {
        let select = try connection.prepare("SELECT value FROM \(meta) WHERE key = 'recovery_floor'")
        return try select.step() ? UInt64(max(0, select.int64(0))) : 0
    }

    /// Raises the floor, never lowers it (two nodes recovering at once may finish in any order).
    /// Two statements because SQLite's `max` is PostgreSQL's `greatest`.
    static func raiseFloor(_ connection: any SQLDatabase, meta: String, to value: UInt64) throws {
        let insert = try connection.prepare(
            "INSERT INTO \(meta)(key, value) VALUES ('recovery_floor', ?) ON CONFLICT (key) DO NOTHING"
        )
        try insert.bind(Int64(clamping: value), at: 1)
        try insert.run()
        let raise = try connection.prepare("UPDATE \(meta) SET value = ? WHERE key = 'recovery_floor' AND value < ?")
        try raise.bind(Int64(clamping: value), at: 1)
        try raise.bind(Int64(clamping: value), at: 2)
        try raise.run()
    }

    static func bind(_ value: String?, _ statement: any SQLStatement, _ index: Int32) throws {
        if let value { try statement.bind(value, at: index) } else { try statement.bindNull(at: index) }
    }

    static func text(_ statement: any SQLStatement, _ column: Int32) -> String? {
        statement.isNull(column) ? nil : statement.text(column)
    }
}

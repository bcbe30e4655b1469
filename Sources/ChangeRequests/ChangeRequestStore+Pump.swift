import SQLiteStore
public import TherapyModel

/// What the command pipeline reads about one pump: the requests that decide its expected
/// settings, its recent and pending deliveries, its uncertain commands, a command by sequence.
extension ChangeRequestStore {
    /// Requests of `serial` that the pump applied after the audit entry `auditIndex` (the
    /// therapy version's baseline), in the order the pump applied them (by sequence).
    public func appliedRequests(forPump serial: String, afterAuditIndex auditIndex: UInt64) throws -> [ChangeRequest] {
        try reading("list applied requests of \(serial)") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where: """
                    pump_serial = ? AND state = 'applied' AND id IN (SELECT request_id FROM transition
                        WHERE to_state = 'applied' AND audit_index > ?)
                    ORDER BY sequence
                    """,
                bindings: [.text(serial), .integer(Int64(clamping: auditIndex))]
            )
        }
    }

    /// Requests of `serial` that count as insulin for the policy's rate and daily limits: those
    /// applied since `since`, and those on their way (accepted, approved, queued, sent,
    /// uncertain), oldest first. Requests held for approval do not count: approval decides again.
    public func deliveryRequests(forPump serial: String, since: Timestamp) throws -> [ChangeRequest] {
        try reading("list deliveries of \(serial)") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where: """
                    pump_serial = ? AND (state IN ('accepted', 'approved', 'queued', 'sent', 'uncertain')
                        OR (state = 'applied' AND updated_ms >= ?))
                    ORDER BY updated_ms, id
                    """,
                bindings: [.text(serial), .integer(since.millisecondsSinceEpoch)]
            )
        }
    }

    /// The uncertain commands of `serial` (sent, no acknowledgement, session gone), by sequence.
    public func uncertainRequests(forPump serial: String) throws -> [ChangeRequest] {
        try reading("list uncertain commands of \(serial)") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where: "pump_serial = ? AND state = 'uncertain' ORDER BY sequence",
                bindings: [.text(serial)]
            )
        }
    }

    /// The command of `serial` sent with `sequence`, if any.
    public func request(forPump serial: String, sequence: UInt64) throws -> ChangeRequest? {
        try reading("find command \(sequence) of \(serial)") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where: "pump_serial = ? AND sequence = ?",
                bindings: [.text(serial), .integer(Int64(clamping: sequence))]
            ).first
        }
    }

    /// Checks a pump serial as `submit` does (1…64 of `A-Z a-z 0-9 . _ -`); throws `invalidInput`.
    public static func checkSerial(_ serial: String) throws {
        try validateSerial(serial)
    }

    /// Checks an idempotency key as `submit` does (1…200 visible ASCII); throws `invalidInput`.
    public static func checkIdempotencyKey(_ key: String) throws {
        try validateIdempotencyKey(key)
    }
}

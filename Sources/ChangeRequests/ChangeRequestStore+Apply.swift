import Foundation
import SQLiteStore
import TherapyModel

/// Applying an audited step to the store: the one code path for both a live step (after its
/// append) and recovery (redoing an entry the store lacks), so the two cannot disagree. The new
/// value comes from `ChangeRequest.created(by:)` / `applying(_:)`; this only persists it.
extension ChangeRequestStore {
    /// Applies `event`, recorded at `auditIndex`, inside the caller's transaction, and returns the
    /// request as stored. `current` is the request before the step when the caller holds it (a
    /// live step, guarded against concurrent steps); otherwise it is read.
    func apply(
        _ event: ChangeRequestEvent,
        actor: ChangeActor,
        auditIndex: UInt64,
        current known: ChangeRequest? = nil
    ) throws -> ChangeRequest {
        if event.creation != nil {
            let request = try ChangeRequest.created(by: event, actor: actor, auditIndex: auditIndex)
            try insert(request)
            try insertTransitions(request, from: 0)
            return request
        }
        guard let id = event.requestID,
            let current = try known ?? ChangeRequestSchema.loadRequest(connection, id)
        else {
            throw ChangeRequestError(.notFound, "audit entry \(auditIndex): no change request \(event.requestId)")
        }
        let next = try current.applying(event, actor: actor, auditIndex: auditIndex)
        if shared != nil, next.state == .sent, let sequence = next.sequence {
            // Checked again under the log's lock: another node may have sent to the pump since
            // the caller looked (one command in flight per pump, no sequence used twice).
            let last = try ChangeRequestSchema.lastSequence(connection, serial: next.pumpSerial)
            guard try !ChangeRequestSchema.hasUnsettledCommand(connection, serial: next.pumpSerial), sequence > last
            else {
                throw ChangeRequestError(
                    .pumpBusy,
                    "pump \(next.pumpSerial) has a command sent and not yet settled, or sequence \(sequence) is "
                        + "not past its last (\(last)); one command at a time"
                )
            }
        }
        let update = try connection.prepare(
            """
            UPDATE request SET state = ?, refusal_code = ?, updated_ms = ?, sequence = ?, expires_ms = ?,
                approver_id = ?, queue_position = ?
            WHERE id = ?
            """
        )
        try update.bind(next.state.name, at: 1)
        try Self.bind(next.state.refusalCode, update, 2)
        try update.bind(next.updatedAt.millisecondsSinceEpoch, at: 3)
        try Self.bind(next.sequence.map { Int64(clamping: $0) }, update, 4)
        try Self.bind(next.expiresAt?.millisecondsSinceEpoch, update, 5)
        try Self.bind(next.approverID, update, 6)
        try Self.bind(next.authorizingAuditIndex.map { Int64(clamping: $0) }, update, 7)
        try update.bind(id.rawValue, at: 8)
        try update.run()
        try insertTransitions(next, from: current.history.count)
        if let sequence = next.sequence, sequence != current.sequence {
            try ChangeRequestSchema.raiseSequence(connection, serial: next.pumpSerial, to: sequence)
        }
        return next
    }

    private func insert(_ request: ChangeRequest) throws {
        let insert = try connection.prepare(
            """
            INSERT INTO request(id, pump_serial, requester_id, requester_role, idempotency_key, change_json,
                decision_json, state, refusal_code, created_ms, updated_ms, queue_position, expires_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        )
        try insert.bind(request.id.rawValue, at: 1)
        try insert.bind(request.pumpSerial, at: 2)
        try insert.bind(request.requesterID, at: 3)
        try insert.bind(request.requesterRole, at: 4)
        try insert.bind(request.idempotencyKey, at: 5)
        try insert.bind(request.changeJSON, at: 6)
        let decision = ChangeRequestEvent.DecisionBody(request.decision)
        try insert.bind(String(decoding: try JSONValue.encoder.encode(decision), as: UTF8.self), at: 7)
        try insert.bind(request.state.name, at: 8)
        try Self.bind(request.state.refusalCode, insert, 9)
        try insert.bind(request.createdAt.millisecondsSinceEpoch, at: 10)
        try insert.bind(request.updatedAt.millisecondsSinceEpoch, at: 11)
        try Self.bind(request.authorizingAuditIndex.map { Int64(clamping: $0) }, insert, 12)
        try Self.bind(request.expiresAt?.millisecondsSinceEpoch, insert, 13)
        do {
            try insert.run()
        } catch let error as SQLiteError where error.primaryCode == 19 {  // SQLITE_CONSTRAINT
            throw ChangeRequestError(
                .idempotencyKeyReused,
                "request \(request.id) collides with a stored request (its id, or its requester's idempotency key)"
            )
        }
    }

    /// Inserts the history of `request` from step `first` on.
    private func insertTransitions(_ request: ChangeRequest, from first: Int) throws {
        let insert = try connection.prepare(
            """
            INSERT INTO transition(request_id, step, from_state, to_state, refusal_code, at_ms, actor_id, actor_role,
                audit_index, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        )
        for (step, transition) in request.history.enumerated().dropFirst(first) {
            try insert.bind(request.id.rawValue, at: 1)
            try insert.bind(Int64(step), at: 2)
            try Self.bind(transition.from?.name, insert, 3)
            try insert.bind(transition.to.name, at: 4)
            try Self.bind(transition.to.refusalCode, insert, 5)
            try insert.bind(transition.at.millisecondsSinceEpoch, at: 6)
            try insert.bind(transition.actor.id, at: 7)
            try insert.bind(transition.actor.role, at: 8)
            try insert.bind(Int64(transition.auditIndex), at: 9)
            try Self.bind(transition.note, insert, 10)
            try insert.run()
        }
    }

    /// Throws `illegalTransition` naming the first step of `states` that `from` may not take.
    static func checkChain(_ id: ChangeRequestID, from: ChangeRequestState, _ states: [ChangeRequestState]) throws {
        var current = from
        for next in states {
            guard current.canMove(to: next) else { throw ChangeRequestError.illegal(id, from: current, to: next) }
            current = next
        }
    }

    static func bind(_ value: String?, _ statement: any SQLStatement, _ index: Int32) throws {
        if let value { try statement.bind(value, at: index) } else { try statement.bindNull(at: index) }
    }

    static func bind(_ value: Int64?, _ statement: any SQLStatement, _ index: Int32) throws {
        if let value { try statement.bind(value, at: index) } else { try statement.bindNull(at: index) }
    }
}

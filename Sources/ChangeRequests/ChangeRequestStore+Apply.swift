import Foundation
import SQLiteStore
import TherapyJSON
import TherapyModel

/// Applying an audited step to the store: the one code path for both a live step (after its
/// append) and recovery (redoing an entry the store lacks), so the two cannot disagree.
extension ChangeRequestStore {
    /// Applies `event`, recorded at `auditIndex`, inside the caller's transaction. Throws
    /// `illegalTransition` if the request is not in the state the entry says it left.
    func apply(_ event: ChangeRequestEvent, actor: ChangeActor, auditIndex: UInt64) throws {
        guard let id = event.requestID, let states = event.enteredStates else {
            throw ChangeRequestError(.invalidInput, "audit entry \(auditIndex): not a well-formed change-request step")
        }
        if let creation = event.creation {
            try insertCreated(id, event, creation, states: states, actor: actor, auditIndex: auditIndex)
            return
        }
        guard let current = try ChangeRequestSchema.loadRequest(connection, id) else {
            throw ChangeRequestError(.notFound, "audit entry \(auditIndex): no change request \(id)")
        }
        guard let from = event.fromState, from == current.state else {
            throw ChangeRequestError.illegal(id, from: current.state, to: states[0])
        }
        try Self.checkChain(id, from: from, states)
        let update = try connection.prepare(
            """
            UPDATE request SET state = ?, refusal_code = ?, updated_ms = ?,
                sequence = coalesce(?, sequence), expires_ms = coalesce(?, expires_ms),
                approver_id = coalesce(?, approver_id), queue_position = coalesce(?, queue_position)
            WHERE id = ?
            """
        )
        let final = states[states.count - 1]
        try update.bind(final.name, at: 1)
        try Self.bind(final.refusalCode, update, 2)
        try update.bind(event.at, at: 3)
        try Self.bind(event.sequence.map { Int64(clamping: $0) }, update, 4)
        try Self.bind(event.expiresAt, update, 5)
        try Self.bind(event.approver, update, 6)
        try Self.bind(states.contains(.queued) ? Int64(auditIndex) : nil, update, 7)
        try update.bind(id.rawValue, at: 8)
        try update.run()
        try insertTransitions(
            id,
            from: from,
            states,
            at: event.at,
            actor: actor,
            auditIndex: auditIndex,
            firstStep: current.history.count
        )
        if let sequence = event.sequence {
            try ChangeRequestSchema.raiseSequence(connection, serial: current.pumpSerial, to: sequence)
        }
    }

    private func insertCreated(
        _ id: ChangeRequestID,
        _ event: ChangeRequestEvent,
        _ creation: ChangeRequestEvent.Creation,
        states: [ChangeRequestState],
        actor: ChangeActor,
        auditIndex: UInt64
    ) throws {
        guard ChangeRequestState.initialStates.contains(states[0]) else {
            throw ChangeRequestError.illegal(id, from: states[0], to: states[0])
        }
        try Self.checkChain(id, from: states[0], Array(states.dropFirst()))
        guard let change = try? TherapyJSON.change(from: try creation.change.data) else {
            throw ChangeRequestError(.invalidInput, "audit entry \(auditIndex): the change of \(id) does not decode")
        }
        let insert = try connection.prepare(
            """
            INSERT INTO request(id, pump_serial, requester_id, requester_role, idempotency_key, change_json,
                decision_json, state, refusal_code, created_ms, updated_ms, queue_position, expires_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        )
        let final = states[states.count - 1]
        try insert.bind(id.rawValue, at: 1)
        try insert.bind(event.pumpSerial, at: 2)
        try insert.bind(creation.requester, at: 3)
        try insert.bind(creation.requesterRole, at: 4)
        try insert.bind(creation.idempotencyKey, at: 5)
        try insert.bind(String(decoding: TherapyJSON.encode(change), as: UTF8.self), at: 6)
        try insert.bind(String(decoding: try JSONValue.encoder.encode(creation.decision), as: UTF8.self), at: 7)
        try insert.bind(final.name, at: 8)
        try Self.bind(final.refusalCode, insert, 9)
        try insert.bind(event.at, at: 10)
        try insert.bind(event.at, at: 11)
        try Self.bind(states.contains(.queued) ? Int64(auditIndex) : nil, insert, 12)
        try Self.bind(event.expiresAt, insert, 13)
        do {
            try insert.run()
        } catch let error as SQLiteError where error.primaryCode == 19 {  // SQLITE_CONSTRAINT
            throw ChangeRequestError(
                .idempotencyKeyReused,
                "audit entry \(auditIndex): request \(id) collides with a stored request (id or idempotency key)"
            )
        }
        try insertTransitions(id, from: nil, states, at: event.at, actor: actor, auditIndex: auditIndex, firstStep: 0)
    }

    private func insertTransitions(
        _ id: ChangeRequestID,
        from: ChangeRequestState?,
        _ states: [ChangeRequestState],
        at: Int64,
        actor: ChangeActor,
        auditIndex: UInt64,
        firstStep: Int
    ) throws {
        let insert = try connection.prepare(
            """
            INSERT INTO transition(request_id, step, from_state, to_state, refusal_code, at_ms, actor_id, actor_role,
                audit_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        )
        var previous = from
        for (offset, state) in states.enumerated() {
            try insert.bind(id.rawValue, at: 1)
            try insert.bind(Int64(firstStep + offset), at: 2)
            try Self.bind(previous?.name, insert, 3)
            try insert.bind(state.name, at: 4)
            try Self.bind(state.refusalCode, insert, 5)
            try insert.bind(at, at: 6)
            try insert.bind(actor.id, at: 7)
            try insert.bind(actor.role, at: 8)
            try insert.bind(Int64(auditIndex), at: 9)
            try insert.run()
            previous = state
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

    static func bind(_ value: String?, _ statement: SQLiteStatement, _ index: Int32) throws {
        if let value { try statement.bind(value, at: index) } else { try statement.bindNull(at: index) }
    }

    static func bind(_ value: Int64?, _ statement: SQLiteStatement, _ index: Int32) throws {
        if let value { try statement.bind(value, at: index) } else { try statement.bindNull(at: index) }
    }
}

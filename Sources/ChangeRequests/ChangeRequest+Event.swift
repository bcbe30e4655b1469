import Foundation
import TherapyJSON
import TherapyModel

/// A request as an audited step leaves it: pure functions of the request and the entry, used
/// both live and by recovery, so what is stored is exactly what the log says.
extension ChangeRequest {
    /// The request a creation entry (`change.requested`) describes.
    static func created(by event: ChangeRequestEvent, actor: ChangeActor, auditIndex: UInt64) throws -> ChangeRequest {
        guard let id = event.requestID, let states = event.enteredStates, let creation = event.creation,
            let decision = creation.decision.value
        else {
            throw ChangeRequestError(.invalidInput, "audit entry \(auditIndex): not a well-formed change request")
        }
        guard ChangeRequestState.initialStates.contains(states[0]) else {
            throw ChangeRequestError.illegal(id, from: states[0], to: states[0])
        }
        try ChangeRequestStore.checkChain(id, from: states[0], Array(states.dropFirst()))
        guard let change = try? TherapyJSON.change(from: try creation.change.data) else {
            throw ChangeRequestError(.invalidInput, "audit entry \(auditIndex): the change of \(id) does not decode")
        }
        return ChangeRequest(
            id: id,
            pumpSerial: event.pumpSerial,
            requesterID: creation.requester,
            requesterRole: creation.requesterRole,
            idempotencyKey: creation.idempotencyKey,
            change: change,
            changeJSON: String(decoding: TherapyJSON.encode(change), as: UTF8.self),
            decision: decision,
            state: states[states.count - 1],
            createdAt: event.time,
            updatedAt: event.time,
            expiresAt: event.expiry,
            sequence: nil,
            approverID: nil,
            integrityProblem: nil,
            history: steps(from: nil, states, event: event, actor: actor, auditIndex: auditIndex)
        )
    }

    /// This request after the step `event` records. Throws `illegalTransition` if the request is
    /// not in the state the entry says it left, or a step is not allowed from there.
    func applying(_ event: ChangeRequestEvent, actor: ChangeActor, auditIndex: UInt64) throws -> ChangeRequest {
        guard event.creation == nil, event.requestId == id.rawValue, let states = event.enteredStates else {
            throw ChangeRequestError(.invalidInput, "audit entry \(auditIndex): not a well-formed step of \(id)")
        }
        guard let from = event.fromState, from == state else {
            throw ChangeRequestError.illegal(id, from: state, to: states[0])
        }
        try ChangeRequestStore.checkChain(id, from: from, states)
        return ChangeRequest(
            id: id,
            pumpSerial: pumpSerial,
            requesterID: requesterID,
            requesterRole: requesterRole,
            idempotencyKey: idempotencyKey,
            change: change,
            changeJSON: changeJSON,
            decision: decision,
            state: states[states.count - 1],
            createdAt: createdAt,
            updatedAt: event.time,
            expiresAt: event.expiry ?? expiresAt,
            sequence: event.sequence ?? sequence,
            approverID: event.approver ?? approverID,
            integrityProblem: integrityProblem,
            history: history + Self.steps(from: from, states, event: event, actor: actor, auditIndex: auditIndex)
        )
    }

    private static func steps(
        from: ChangeRequestState?,
        _ states: [ChangeRequestState],
        event: ChangeRequestEvent,
        actor: ChangeActor,
        auditIndex: UInt64
    ) -> [ChangeTransition] {
        var previous = from
        return states.map { state in
            defer { previous = state }
            return ChangeTransition(
                from: previous,
                to: state,
                at: event.time,
                actor: actor,
                auditIndex: auditIndex,
                note: event.note
            )
        }
    }
}

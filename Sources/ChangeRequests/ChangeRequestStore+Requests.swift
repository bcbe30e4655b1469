import AuditLog
import Foundation
import SafetyPolicy
import TherapyJSON
public import TherapyModel

extension ChangeRequestStore {
    /// Pump serials, like device names in the PKI: 1...64 of `A-Z a-z 0-9 . _ -`.
    public static let maximumSerialLength = 64
    /// Idempotency keys: 1...200 visible ASCII characters (what an HTTP header carries).
    public static let maximumIdempotencyKeyLength = 200

    /// Records a new request with the policy's decision, or returns the one the requester made
    /// before with the same idempotency key and the same body (pump and canonical change).
    ///
    /// An accepted change is queued in the same step (one audit entry: `change.requested` with
    /// states `accepted`, `queued`); one needing approval waits as `pendingApproval`; a rejected
    /// one is recorded as `rejected`. Throws `idempotencyKeyReused` (same key, other body),
    /// `requestInProgress` (same key being recorded now), `invalidInput`, `auditFailed`.
    public func submit(_ submission: ChangeSubmission, now: Timestamp) async throws -> SubmissionResult {
        try Self.validateSerial(submission.pumpSerial)
        try Self.validateIdempotencyKey(submission.idempotencyKey)
        let changeJSON = String(decoding: TherapyJSON.encode(submission.change), as: UTF8.self)
        let requester = submission.requester.id
        if let existing = try existing(submission, changeJSON: changeJSON) { return .existing(existing) }
        let key = [requester, submission.idempotencyKey]
        guard !busyKeys.contains(key) else {
            throw ChangeRequestError(
                .requestInProgress,
                "a request with idempotency key '\(submission.idempotencyKey)' is being recorded; retry shortly"
            )
        }
        try checkAvailable()
        busyKeys.insert(key)
        defer { busyKeys.remove(key) }

        let id = ChangeRequestID.random()
        let decision = ChangeDecision(submission.decision)
        let accepted = decision.outcome == .accept
        let states = accepted ? [decision.initialState, .queued] : [decision.initialState]
        var event = ChangeRequestEvent(
            request: id,
            pumpSerial: submission.pumpSerial,
            from: nil,
            states: states,
            at: now
        )
        if accepted || decision.initialState == .pendingApproval {
            // A held change must be approved within the lifetime its command would have.
            event.expiresAt = lifetimes.expiry(of: submission.change.kind, queuedAt: now).millisecondsSinceEpoch
        }
        event.creation = ChangeRequestEvent.Creation(
            requester: requester,
            requesterRole: submission.requester.role.rawValue,
            idempotencyKey: submission.idempotencyKey,
            change: try JSONValue(parsing: Data(changeJSON.utf8)),
            decision: ChangeRequestEvent.DecisionBody(decision)
        )
        let created: ChangeRequest
        do {
            created = try await step(
                event,
                kind: .changeRequested,
                actor: ChangeActor(submission.requester),
                current: nil,
                phoneID: submission.phoneID
            )
        } catch let error as ChangeRequestError where error.code == .idempotencyKeyReused && shared != nil {
            // Another node recorded the same key meanwhile (a client's retry that reached it while
            // this one was in flight): the same body is that request, as any replay.
            guard let existing = try existing(submission, changeJSON: changeJSON) else { throw error }
            return .existing(existing)
        }
        return .created(created)
    }

    /// The request already recorded under the submission's key, if any; `idempotencyKeyReused`
    /// when that request has another body.
    private func existing(_ submission: ChangeSubmission, changeJSON: String) throws -> ChangeRequest? {
        let requester = submission.requester.id
        guard let existing = try request(requester: requester, idempotencyKey: submission.idempotencyKey) else {
            return nil
        }
        guard existing.pumpSerial == submission.pumpSerial, existing.changeJSON == changeJSON else {
            throw ChangeRequestError(
                .idempotencyKeyReused,
                "idempotency key '\(submission.idempotencyKey)' was used by \(requester) for request "
                    + "\(existing.id) with a different body; use a new key for a new change"
            )
        }
        return existing
    }

    /// A second clinician approved a change held for approval: it is queued (one audit entry,
    /// `change.approved`). Whether this approver may approve is `ApprovalPolicy`'s question,
    /// asked by the caller before this.
    /// The command keeps the expiry counted from the request: throws `commandExpired` once it
    /// has passed (the sweep then records the request expired).
    public func approve(_ id: ChangeRequestID, by approver: ChangeActor, now: Timestamp) async throws -> ChangeRequest {
        try await transition(id, to: [.approved, .queued], kind: .changeApproved, actor: approver, now: now) {
            event,
            request in
            if let expiry = request.expiresAt, expiry <= now {
                throw ChangeRequestError(
                    .commandExpired,
                    "request \(id) expired unapproved at \(expiry): a change must be approved within its "
                        + "command's lifetime from the request; ask for it again"
                )
            }
            event.approver = approver.id
            // (Requests held before approval windows existed have no expiry yet: from now.)
            event.expiresAt =
                (request.expiresAt ?? lifetimes.expiry(of: request.change.kind, queuedAt: now))
                .millisecondsSinceEpoch
        }
    }

    /// A clinician refused a change held for approval.
    public func reject(_ id: ChangeRequestID, by actor: ChangeActor, now: Timestamp) async throws -> ChangeRequest {
        try await transition(id, to: [.rejected], kind: .changeRejected, actor: actor, now: now)
    }

    /// Cancels a request that has not been sent (pending approval, approved, accepted, queued).
    /// A sent command cannot be cancelled: `illegalTransition` from `sent`.
    public func cancel(
        _ id: ChangeRequestID,
        by actor: ChangeActor,
        note: String? = nil,
        now: Timestamp
    ) async throws -> ChangeRequest {
        try await transition(id, to: [.cancelled], kind: .changeCancelled, actor: actor, now: now) { event, _ in
            event.note = note
        }
    }

    /// Every request of `serial` not yet sent (held for approval, approved, accepted, queued),
    /// oldest first: what a lockout cancels.
    public func openRequests(forPump serial: String) throws -> [ChangeRequest] {
        try reading("list open requests of \(serial)") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where: """
                    pump_serial = ? AND state IN ('pending_approval', 'approved', 'accepted', 'queued')
                    ORDER BY created_ms, id
                    """,
                bindings: [.text(serial)]
            )
        }
    }

    /// The pumps with a request not yet sent.
    public func pumpsWithOpenRequests() throws -> [String] {
        try reading("list pumps with open requests") {
            try ChangeRequestSchema.openRequestPumps(connection)
        }
    }

    /// The pumps a node holding their session has work for: open requests to deliver, or
    /// commands another node made uncertain to settle (its notification may have been lost).
    public func pumpsWithWork() throws -> [String] {
        try reading("list pumps with open or uncertain requests") {
            try ChangeRequestSchema.openRequestPumps(connection, includingUncertain: true)
        }
    }

    // MARK: Shared

    /// Checks and takes one step on an existing request: legal from its current state, no other
    /// step on it in flight, then audited and stored (`record`).
    func transition(
        _ id: ChangeRequestID,
        to states: [ChangeRequestState],
        kind: AuditKind,
        actor: ChangeActor,
        now: Timestamp,
        configure: (inout ChangeRequestEvent, ChangeRequest) throws -> Void = { _, _ in }
    ) async throws -> ChangeRequest {
        try await transition(try require(id), to: states, kind: kind, actor: actor, now: now, configure: configure)
    }

    /// `transition` for a request the caller has just read.
    func transition(
        _ current: ChangeRequest,
        to states: [ChangeRequestState],
        kind: AuditKind,
        actor: ChangeActor,
        now: Timestamp,
        configure: (inout ChangeRequestEvent, ChangeRequest) throws -> Void = { _, _ in }
    ) async throws -> ChangeRequest {
        let id = current.id
        try Self.checkChain(id, from: current.state, states)
        guard !busyRequests.contains(id) else {
            throw ChangeRequestError(.requestBusy, "request \(id) is being changed by another step; retry shortly")
        }
        busyRequests.insert(id)
        defer { busyRequests.remove(id) }
        var event = ChangeRequestEvent(
            request: id,
            pumpSerial: current.pumpSerial,
            from: current.state,
            states: states,
            at: now
        )
        try configure(&event, current)
        return try await step(event, kind: kind, actor: actor, current: current)
    }

    /// Audits `event` and applies it; returns the request as stored.
    func step(
        _ event: ChangeRequestEvent,
        kind: AuditKind,
        actor: ChangeActor,
        current: ChangeRequest?,
        phoneID: String? = nil
    ) async throws -> ChangeRequest {
        let auditEvent: AuditEvent
        do {
            auditEvent = try event.auditEvent(kind: kind, actor: actor, phoneID: phoneID)
        } catch {
            throw ChangeRequestError(.invalidInput, "\(kind) for \(event.requestId): \(error)")
        }
        guard let stored = try await record(auditEvent, .change(event, actor, current: current)) else {
            throw ChangeRequestError(.storageFailure, "\(kind) for \(event.requestId) was not stored")
        }
        return stored
    }

    static func validateSerial(_ serial: String) throws {
        guard (1...maximumSerialLength).contains(serial.utf8.count),
            serial.utf8.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            })
        else {
            throw ChangeRequestError(
                .invalidInput,
                "pump serial '\(serial.prefix(80))': must be 1 to \(maximumSerialLength) of A-Z a-z 0-9 . _ -"
            )
        }
    }

    static func validateIdempotencyKey(_ key: String) throws {
        guard (1...maximumIdempotencyKeyLength).contains(key.utf8.count),
            key.utf8.allSatisfy({ (0x21...0x7e).contains($0) })
        else {
            throw ChangeRequestError(
                .invalidInput,
                "idempotency key: must be 1 to \(maximumIdempotencyKeyLength) visible ASCII characters, no spaces"
            )
        }
    }
}

import AuditLog
import Foundation
import SQLiteStore
public import TherapyModel

/// The per-pump command queue: FIFO by the order the commands were authorised (the audit index
/// of their step into `queued`), one command in flight per pump, sequence numbers allocated when
/// a command is sent.
extension ChangeRequestStore {
    /// The command to send next to `serial`: the oldest queued, unexpired, unquarantined request;
    /// nil when there is none, or while the pump has a command sent or uncertain (one at a time,
    /// and an uncertain one must be settled from the pump's hello before anything else is sent).
    public func next(for serial: String, now: Timestamp) throws -> ChangeRequest? {
        guard !busyPumps.contains(serial) else { return nil }
        return try reading("read the queue of \(serial)") {
            guard try !ChangeRequestSchema.hasUnsettledCommand(connection, serial: serial) else { return nil }
            return try ChangeRequestSchema.loadRequests(
                connection,
                where: """
                    pump_serial = ? AND state = 'queued' AND integrity_problem IS NULL AND expires_ms > ?
                    ORDER BY queue_position LIMIT 1
                    """,
                bindings: [.text(serial), .integer(now.millisecondsSinceEpoch)]
            ).first
        }
    }

    /// Marks a queued command sent and gives it the pump's next sequence number (strictly
    /// increasing per pump, stored with the step, never reused). Returns once `command.sent` is
    /// in the audit log and the store: only then may the command be built, signed and sent.
    ///
    /// Throws `illegalTransition` (not queued), `pumpBusy` (another command of the pump is sent
    /// or uncertain, or being sent), `commandExpired`, `quarantined`, `requestBusy`.
    public func markSent(_ id: ChangeRequestID, now: Timestamp) async throws -> ChangeRequest {
        let current = try require(id)
        try Self.checkChain(id, from: current.state, [.sent])
        let serial = current.pumpSerial
        if let problem = current.integrityProblem {
            throw ChangeRequestError(.quarantined, "request \(id) is quarantined (\(problem)); it is never sent")
        }
        if let expiry = current.expiresAt, expiry <= now {
            throw ChangeRequestError(.commandExpired, "request \(id) expired at \(expiry); it is not sent")
        }
        let unsettled = try reading("read the queue of \(serial)") {
            try ChangeRequestSchema.hasUnsettledCommand(connection, serial: serial)
        }
        guard !busyPumps.contains(serial), !unsettled else {
            throw ChangeRequestError(
                .pumpBusy,
                "pump \(serial) has a command sent and not yet settled; one command at a time"
            )
        }
        busyPumps.insert(serial)
        defer { busyPumps.remove(serial) }
        let last = try reading("read the sequence of \(serial)") {
            try ChangeRequestSchema.lastSequence(connection, serial: serial)
        }
        return try await transition(current, to: [.sent], kind: .commandSent, actor: .gateway, now: now) {
            event,
            request in
            event.sequence = last + 1
            event.expiresAt = request.expiresAt?.millisecondsSinceEpoch
        }
    }

    /// The pump's verified acknowledgement of the command with `sequence`: applied, or refused
    /// with the pump's code. `evidence` (the signed acknowledgement as received) goes into the
    /// audit entry. Accepted for a sent or an uncertain command (a late acknowledgement settles
    /// it). Throws `unknownCommand` when no command of the pump has that sequence, and
    /// `illegalTransition` when it is already settled (a duplicate acknowledgement).
    public func markAcknowledged(
        serial: String,
        sequence: UInt64,
        outcome: PumpOutcome,
        evidence: [UInt8] = [],
        now: Timestamp
    ) async throws -> ChangeRequest {
        let found = try reading("find command \(sequence) of \(serial)") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where: "pump_serial = ? AND sequence = ?",
                bindings: [.text(serial), .integer(Int64(clamping: sequence))]
            ).first
        }
        guard let request = found else {
            throw ChangeRequestError(.unknownCommand, "pump \(serial) has no command with sequence \(sequence)")
        }
        let state: ChangeRequestState =
            switch outcome {
            case .applied: .applied
            case .refused(let code): .refusedByPump(code: code)
            }
        let kind: AuditKind = request.state == .uncertain ? .commandReconciled : .commandAcknowledged
        return try await transition(request, to: [state], kind: kind, actor: .pump(serial), now: now) { event, _ in
            event.sequence = sequence
            event.evidence = evidence.isEmpty ? nil : Data(evidence).base64EncodedString()
        }
    }

    /// The pump's session dropped: every command of it that was sent and not acknowledged
    /// becomes uncertain (one `command.uncertain` entry each). Returns them.
    ///
    /// `sequence`: only the command with that sequence, the one the ended session had in flight.
    /// On a store shared by several nodes another node may hold the pump's session now, with a
    /// command of its own in flight: that one is not this session's to settle.
    /// `excluding`: all but the command with that sequence (the one the current session has in
    /// flight: the others were sent on sessions that ended).
    public func markUncertain(
        forSerial serial: String,
        sequence: UInt64? = nil,
        excluding: UInt64? = nil,
        note: String? = nil,
        now: Timestamp
    ) async throws -> [ChangeRequest] {
        var condition = "pump_serial = ? AND state = 'sent'"
        var bindings: [SQLiteValue] = [.text(serial)]
        if let sequence {
            condition += " AND sequence = ?"
            bindings.append(.integer(Int64(clamping: sequence)))
        }
        if let excluding {
            condition += " AND sequence <> ?"
            bindings.append(.integer(Int64(clamping: excluding)))
        }
        let sent = try reading("list sent commands of \(serial)") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where: condition + " ORDER BY sequence",
                bindings: bindings
            )
        }
        return try await sweep(sent, to: .uncertain, kind: .commandUncertain, note: note, now: now)
    }

    /// Settles an uncertain command from the pump's own report (its hello): applied, refused, or
    /// never applied. It is never re-sent.
    public func resolveUncertain(
        _ id: ChangeRequestID,
        as reconciliation: Reconciliation,
        evidence: [UInt8] = [],
        note: String? = nil,
        now: Timestamp
    ) async throws -> ChangeRequest {
        let state: ChangeRequestState =
            switch reconciliation {
            case .applied: .applied
            case .refused(let code): .refusedByPump(code: code)
            case .notApplied: .notApplied
            }
        let current = try require(id)
        return try await transition(
            current,
            to: [state],
            kind: .commandReconciled,
            actor: .pump(current.pumpSerial),
            now: now
        ) { event, _ in
            event.evidence = evidence.isEmpty ? nil : Data(evidence).base64EncodedString()
            event.note = note
        }
    }

    /// Every queued command, and every change still held for approval, whose expiry is at or
    /// before `now` becomes expired (one `command.expired` entry each; never sent). Returns them.
    public func expire(now: Timestamp) async throws -> [ChangeRequest] {
        let due = try reading("list expired commands") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where:
                    "state IN ('queued', 'pending_approval') AND expires_ms <= ? ORDER BY queue_position, created_ms",
                bindings: [.integer(now.millisecondsSinceEpoch)]
            )
        }
        return try await sweep(due, to: .expired, kind: .commandExpired, now: now)
    }

    /// Moves each of `requests` to `state` as the gateway, one audited step each, skipping any
    /// that another step is changing or has already moved on since they were listed.
    func sweep(
        _ requests: [ChangeRequest],
        to state: ChangeRequestState,
        kind: AuditKind,
        note: String? = nil,
        now: Timestamp
    ) async throws -> [ChangeRequest] {
        var moved: [ChangeRequest] = []
        for request in requests where !busyRequests.contains(request.id) {
            do {
                moved.append(
                    try await transition(request.id, to: [state], kind: kind, actor: .gateway, now: now) { event, _ in
                        event.note = note
                    }
                )
            } catch let error as ChangeRequestError where error.code == .illegalTransition || error.code == .requestBusy
            {
                continue
            }
        }
        return moved
    }

    /// The last sequence number given to a command of `serial` (0: none yet).
    public func lastSequence(for serial: String) throws -> UInt64 {
        try reading("read the sequence of \(serial)") {
            try ChangeRequestSchema.lastSequence(connection, serial: serial)
        }
    }

    /// Raises the pump's sequence counter to at least `sequence` (e.g. the high-water mark the
    /// pump reports in its hello, if the store somehow fell behind it); never lowers it.
    public func raiseSequence(for serial: String, atLeast sequence: UInt64) throws {
        try Self.validateSerial(serial)
        try checkAvailable()
        try reading("raise the sequence of \(serial)") {
            try connection.writeTransaction {
                try ChangeRequestSchema.raiseSequence(connection, serial: serial, to: sequence)
            }
        }
    }
}

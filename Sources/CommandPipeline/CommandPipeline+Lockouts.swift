import AuditLog
import ChangeRequests
import CommandAuthority
import Lockouts
import Logging
import TherapyModel
import TunnelProtocol

/// Lockouts on the pump's side of the pipeline: the standing order read on every hello and on
/// every change of the lockouts, the lockout commands sent (audited first) and their signed
/// acknowledgements. Every method here runs on the pump's worker.
extension CommandPipeline {
    /// Reads what the gateway's lockouts ask of the pump and hands it to its delivery machine;
    /// the changes of a locked pump not yet sent are cancelled (each audited, its history naming
    /// the lockout).
    ///
    /// A fan-out to a fleet passes `fanOut`: the pump's patient is taken from the pump directory
    /// (written whenever a prescription is set) rather than read again from the change store,
    /// and open changes are looked for only when the fan-out found some for the pump.
    func refreshLockoutOrder(_ serial: String, slot: PumpSlot, fanOut: (hasOpenChanges: Bool, Void)? = nil) async {
        guard let lockouts else { return }
        // The pump's patient is its pairing binding (docs/pairing.md), as for every other question.
        let patient = fanOut == nil ? try? await store.binding(for: serial)?.patientID : nil
        let attributes = PumpAttributes(serial: serial, patient: patient, model: slot.model, firmware: slot.firmware)
        do {
            try await lockouts.notePump(attributes, now: clock().millisecondsSinceEpoch)
        } catch {
            logger.error(
                "could not record the pump's attributes",
                metadata: ["device": "\(serial)", "error": "\(error)"]
            )
        }
        let order = await lockouts.order(for: attributes)
        // Only an unlocked pump may need a lift; a fleet lockout need not ask the store per pump.
        let mayLift =
            order.isLocked ? slot.delivery.mayLift : ((try? await lockouts.hasApplied(serial: serial)) ?? false)
        if order != slot.delivery.order || mayLift != slot.delivery.mayLift {
            slot.delivery.orderChanged(order, mayLift: mayLift)
        }
        if case .locked(_, let ids) = order, fanOut?.hasOpenChanges ?? true {
            await cancelOpenRequests(serial, because: ids)
        }
    }

    /// Cancels every change of `serial` not yet sent, because lockouts `ids` cover the pump.
    private func cancelOpenRequests(_ serial: String, because ids: [LockoutID]) async {
        guard let lockouts, let first = ids.first else { return }
        let open: [ChangeRequest]
        do {
            open = try await store.openRequests(forPump: serial)
        } catch {
            logger.error("could not list changes to cancel", metadata: ["device": "\(serial)", "error": "\(error)"])
            return
        }
        guard !open.isEmpty else { return }
        let lockout = await lockouts.lockout(first)
        let note = "lockout: cancelled by lockout \(first)" + (lockout.map { " (\($0.scope)): \($0.reason)" } ?? "")
        for request in open {
            do {
                _ = try await store.cancel(request.id, by: .gateway, note: note, now: clock())
                logger.notice(
                    "change cancelled by a lockout",
                    metadata: ["device": "\(serial)", "request": "\(request.id)", "lockout": "\(first)"]
                )
            } catch {
                logger.error("could not cancel a change", metadata: ["request": "\(request.id)", "error": "\(error)"])
            }
        }
    }

    /// Sends a freshly signed lockout command: the pump's next sequence taken in the change store
    /// (so no change can reuse it, whatever happens next; a crash before the audit entry only
    /// skips a number, which the pump allows), `lockout.sent` durable in the audit log, then the
    /// envelope signed and written. On a shared database the sequence and the entry are taken in
    /// one transaction under the log's head lock (`recordSentTakingSequence`), where every node's
    /// `markSent` checks its own: no sequence is given twice across nodes.
    func sendLockout(
        _ command: LockoutCommand,
        suspend: Bool,
        lockouts ids: [LockoutID],
        serial: String,
        slot: PumpSlot
    ) async {
        guard let lockouts, let session = slot.delivery.session else { return }
        guard await passesFence(serial, beforeWrite: false) else { return }
        let now = clock()
        do {
            let sequence: UInt64
            let auditIndex: UInt64
            if lockouts.isShared {
                let sent = try await lockouts.recordSentTakingSequence(
                    serial: serial,
                    command: command,
                    lockouts: ids,
                    now: now.millisecondsSinceEpoch
                )
                (sequence, auditIndex) = (sent.sequence, sent.auditIndex)
            } else {
                sequence = try await store.lastSequence(for: serial) + 1
                try await store.raiseSequence(for: serial, atLeast: sequence)
                auditIndex = try await lockouts.recordSent(
                    serial: serial,
                    sequence: sequence,
                    command: command,
                    lockouts: ids,
                    now: now.millisecondsSinceEpoch
                )
            }
            let pumpCommand: PumpCommand = command == .start ? .lockoutStart(suspendDelivery: suspend) : .lockoutLift
            let lifetime = CommandLifetime.maximumMilliseconds(for: pumpCommand.kind)
            let signed = try signer.sign(
                try CommandEnvelope(
                    serial: serial,
                    sequence: sequence,
                    issuedAt: now,
                    expiresAt: Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + lifetime),
                    auditIndex: auditIndex,
                    command: pumpCommand
                )
            )
            slot.delivery.sent(
                PumpSlot.InFlightCommand(
                    sequence: sequence,
                    purpose: .lockout(command, ids),
                    sentAtMilliseconds: now.millisecondsSinceEpoch,
                    command: signed
                )
            )
            guard await passesFence(serial, beforeWrite: true) else {
                session.channel.close()
                return
            }
            session.channel.send(InnerMessage.command(signed).encoded())
            slot.lockoutSentAt = clock().millisecondsSinceEpoch
            logger.notice(
                "lockout command sent",
                metadata: [
                    "device": "\(serial)", "command": "\(command)", "sequence": "\(sequence)",
                    "lockouts": "\(ids.map(\.rawValue).joined(separator: ","))",
                ]
            )
        } catch {
            // Nothing is in flight: end the session; the next one starts with the lockout again.
            logger.error(
                "could not send a lockout command; ending the session",
                metadata: ["device": "\(serial)", "error": "\(error)"]
            )
            session.channel.close()
        }
    }

    /// Records the pump's verified answer to a lockout command (`lockout.acknowledged`).
    func settleLockout(
        _ acknowledgement: CommandAcknowledgement,
        command: LockoutCommand,
        lockouts ids: [LockoutID],
        evidence: [UInt8],
        serial: String,
        slot: PumpSlot
    ) async {
        guard let lockouts else { return }
        slot.reportedDigest = acknowledgement.settingsDigest
        slot.noteMode(acknowledgement.mode, at: clock())
        let result: String
        switch acknowledgement.result {
        case .applied:
            result = "applied"
        case .refused(let refusal):
            result = refusal.description
            await securityEvent(
                "lockout_refused_by_pump",
                serial: serial,
                reason: refusal.description,
                detail: "the pump refused lockout \(command) sequence \(acknowledgement.sequence); it is sent again "
                    + "(at most \(PumpDeliveryStateMachine<PumpSlot.Session, SignedCommand>.maximumLockoutAttempts) "
                    + "times a session)"
            )
            if refusal == .replayedSequence {
                try? await store.raiseSequence(for: serial, atLeast: acknowledgement.lastAppliedSequence)
            }
        }
        do {
            try await lockouts.recordAcknowledged(
                serial: serial,
                sequence: acknowledgement.sequence,
                command: command,
                lockouts: ids,
                result: result,
                evidence: evidence,
                now: clock().millisecondsSinceEpoch
            )
            slot.lockoutAcknowledgedAt = clock().millisecondsSinceEpoch
            logger.notice(
                "lockout command acknowledged",
                metadata: [
                    "device": "\(serial)", "command": "\(command)", "sequence": "\(acknowledgement.sequence)",
                    "result": "\(result)",
                ]
            )
        } catch {
            logger.error(
                "could not record a lockout acknowledgement",
                metadata: ["device": "\(serial)", "error": "\(error)"]
            )
        }
    }

    /// Tells the rule engine's sink (if any) of an observation.
    nonisolated func reportObservation(kind: String, pump: String, phone: String?, detail: String) {
        let sink = observationSink.withLock { $0 }
        sink?(PipelineObservation(kind: kind, pump: pump, phone: phone, detail: detail, time: clock()))
    }

    /// `observer` is told of what the anomaly rules watch (replaces any earlier one).
    public nonisolated func observe(_ observer: @escaping @Sendable (PipelineObservation) -> Void) {
        observationSink.withLock { $0 = observer }
    }

    /// `observer` is told of the phones shut out by lockouts, now and whenever the set changes.
    public nonisolated func observeLockedOutPhones(_ observer: @escaping @Sendable (Set<String>) -> Void) async {
        phoneLockoutObserver.withLock { $0 = observer }
        if let lockouts { observer(await lockouts.lockedOutPhones()) }
    }
}

import AuditLog
import ChangeRequests
import CommandAuthority
import Foundation
import Logging
import TherapyModel
import TunnelProtocol

/// The pump side of the pipeline: hello and reconciliation, delivery, acknowledgements, the
/// end of a session. Every method here runs on the pump's worker.
extension CommandPipeline {
    // MARK: Hello

    func connected(
        _ link: PumpLink,
        hello: InnerMessage.Hello,
        channel: PumpSessionChannel,
        slot: PumpSlot
    ) async {
        let serial = link.serial
        let facts: PumpCertificateFacts
        do {
            facts = try pumpKeys.facts(for: serial)
        } catch {
            await securityEvent(
                "pump_key_unavailable",
                serial: serial,
                detail: "no certificate to verify its acknowledgements (\(error)); the session is ended"
            )
            channel.close()
            return
        }
        let session = PumpSlot.Session(link: link, channel: channel, verifier: facts.verifier, carrier: channel.carrier)
        if case .replaced(let old, let inFlight) = slot.delivery.connected(
            session,
            reportsLockedOut: hello.mode.contains(.lockedOut)
        ) {
            // The pump came back before the old session's end was reported: it is over.
            old.channel.close()
            await sessionEnded(serial, carrier: old.carrier, inFlight: inFlight)
        }
        slot.reportedDigest = hello.settingsDigest
        slot.noteMode(hello.mode, at: clock())
        slot.lastAppliedSequence = hello.lastAppliedSequence
        slot.hello = hello
        await noteModel(facts.model, hello: hello, serial: serial, slot: slot)
        slot.firmware = hello.firmware
        logger.info(
            "pump said hello",
            metadata: [
                "device": "\(serial)", "session": "\(link.session)", "applied": "\(hello.lastAppliedSequence)",
                "via": "\(channel.carrier)",
            ]
        )
        await reconcile(serial, hello: hello, carrier: channel.carrier, slot: slot)
        await checkDigest(hello.settingsDigest, serial: serial, slot: slot, source: "hello")
        await refreshLockoutOrder(serial, slot: slot)
        await leases?.want(.pump(serial))
        await shareReport(serial)
        if hello.mode.contains(.lockedOut), !slot.delivery.order.isLocked, !slot.delivery.mayLift {
            await securityEvent(
                "pump_reports_unknown_lockout",
                serial: serial,
                detail: "the pump reports a lockout this gateway never sent it; it is not lifted, and changes for it "
                    + "are refused until incident staff start and lift a lockout of it"
            )
        }
        if let phone = channel.phone {
            reportObservation(kind: "pump_connected", pump: serial, phone: phone, detail: "hello via phone \(phone)")
        }
    }

    /// The model lockouts by `model:` match: the certificate's, which the CA signed at enrollment,
    /// not the hello's, which the pump (or whoever holds its key) says. A hello naming another
    /// model is recorded as `pump_model_mismatch` and the certificate wins. A certificate without
    /// a model (made before models were written into them) leaves the hello's, as before.
    private func noteModel(_ certified: String?, hello: InnerMessage.Hello, serial: String, slot: PumpSlot) async {
        let announced = hello.version >= 2 && !hello.model.isEmpty ? hello.model : nil
        guard let certified else {
            if hello.version >= 2 { slot.model = announced }
            return
        }
        slot.model = certified
        if let announced, announced != certified {
            await securityEvent(
                "pump_model_mismatch",
                serial: serial,
                detail: "the hello says model '\(announced.prefix(64))', the certificate '\(certified)'; "
                    + "the certificate's is used"
            )
        }
    }

    /// Settles the pump's uncertain commands from its hello (never re-sends them).
    /// A command another node made uncertain after this session's hello (its own session with
    /// the pump ended late, when the pump had already moved here) is settled from that hello:
    /// the pump had left the old session before it said hello here, so the hello's last applied
    /// sequence tells whether the command was applied. Runs on the pump's worker.
    func settleLateUncertain(_ serial: String) async {
        guard store.databaseHealth != nil, let slot = pumps[serial], let session = slot.delivery.session,
            let hello = slot.hello
        else { return }
        // Only while this node owns the pump. A node run again after a pause still has its old
        // session and hello until it notices them gone; meanwhile the pump said hello to another
        // node, which may have sent it a command since: settling that command from the old hello
        // would call it not applied while the pump applies it.
        guard await ownsDelivery(serial) else { return }
        await reconcile(serial, hello: hello, carrier: session.carrier, slot: slot, freshHello: false)
    }

    /// `freshHello`: the pump just said it; commands still marked sent belong to earlier
    /// sessions and become uncertain first. Otherwise (a later look) only uncertain ones are
    /// settled: a command sent on this session is in flight, not uncertain.
    private func reconcile(
        _ serial: String,
        hello: InnerMessage.Hello,
        carrier: String,
        slot: PumpSlot,
        freshHello: Bool = true
    ) async {
        let now = clock()
        let evidence = InnerMessage.hello(hello).encoded()
        do {
            let last = try await store.lastSequence(for: serial)
            if hello.lastAppliedSequence > last {
                await securityEvent(
                    "pump_ahead_of_gateway",
                    serial: serial,
                    detail: "the pump reports sequence \(hello.lastAppliedSequence) applied; the gateway sent up to "
                        + "\(last)"
                )
                try await store.raiseSequence(for: serial, atLeast: hello.lastAppliedSequence)
            }
            // A command still marked sent was sent on a session whose end was never recorded (the
            // node that held it stopped, with the database shared): uncertain now, settled below.
            // Sent on a session that ended and never settled (on a node that stopped, or one
            // whose session ended after the pump moved here): uncertain now, settled below. Not
            // the command this session has in flight.
            let inFlight = freshHello ? nil : slot.delivery.inFlight?.sequence
            let earlier = try await store.markUncertain(
                forSerial: serial,
                excluding: inFlight,
                note: "its session ended without an acknowledgement on a gateway node that stopped",
                now: now
            )
            for request in earlier {
                logger.warning(
                    "a command sent on an earlier session is uncertain",
                    metadata: ["device": "\(serial)", "sequence": "\(request.sequence ?? 0)"]
                )
            }
            for request in try await store.uncertainRequests(forPump: serial) {
                guard let sequence = request.sequence,
                    let settlement = PumpLedger.settle(sequence: sequence, lastApplied: hello.lastAppliedSequence)
                else {
                    await securityEvent(
                        "unsettled_command",
                        serial: serial,
                        detail:
                            "uncertain command \(request.sequence.map(String.init) ?? "?") cannot be settled from a "
                            + "hello reporting \(hello.lastAppliedSequence) applied"
                    )
                    continue
                }
                let note = settlement == .notApplied ? Self.cutNote(request.history, pump: serial) : nil
                let settled = try await store.resolveUncertain(
                    request.id,
                    as: settlement,
                    evidence: evidence,
                    note: note,
                    now: now
                )
                noteSettled(settled, slot: slot)
                if settlement == .notApplied, let phone = Self.phone(inNote: settled.history.last?.note) {
                    reportObservation(
                        kind: "command_not_applied",
                        pump: serial,
                        phone: phone,
                        detail: "sequence \(sequence) sent through phone \(phone) never reached the pump"
                    )
                }
                logger.info(
                    "uncertain command settled from hello",
                    metadata: ["device": "\(serial)", "sequence": "\(sequence)", "state": "\(settled.state)"]
                )
            }
        } catch {
            logger.error("reconciliation failed", metadata: ["device": "\(serial)", "error": "\(error)"])
        }
    }

    /// The note a command that never reached the pump gets: the phone that carried it, from the
    /// note its `uncertain` step recorded.
    static func cutNote(_ history: [ChangeTransition], pump: String) -> String? {
        guard let phone = phone(inNote: history.last(where: { $0.to == .uncertain })?.note) else { return nil }
        return "sent through phone \(phone), which did not deliver it to the pump; the pump never applied it"
    }

    /// `PHONE` from a note written by ``sessionEnded(_:carrier:inFlight:)`` (`… through phone PHONE …`).
    static func phone(inNote note: String?) -> String? {
        guard let note, let range = note.range(of: "through phone ") else { return nil }
        let rest = note[range.upperBound...]
        let id = rest.prefix { $0 != " " && $0 != "," && $0 != ";" }
        return id.isEmpty ? nil : String(id)
    }

    // MARK: Session end

    /// A session is over: a command in flight on it becomes uncertain (audited), its note naming
    /// the carrier so that a phone that cuts commands can be told.
    func sessionEnded(_ serial: String, carrier: String, inFlight: PumpSlot.InFlightCommand?) async {
        if case .lockout(let command, _)? = inFlight?.purpose {
            logger.warning(
                "session ended with a lockout command unacknowledged; it is sent again on the next session",
                metadata: ["device": "\(serial)", "command": "\(command)", "sequence": "\(inFlight?.sequence ?? 0)"]
            )
        }
        // A session this node lost with its lease (it was paused, or cut from the database) was
        // not cut by the phone: the anomaly rules must not hear of it as the phone's doing.
        let owned = await sessionCutByCarrier(serial)
        pumps[serial]?.handedOver = false
        await leases?.drop(.pump(serial))
        let phone = carrier.hasPrefix("phone ") ? String(carrier.dropFirst("phone ".count)) : nil
        let note =
            owned
            ? phone.map { "the session through phone \($0) ended before the pump acknowledged" }
            : "the session was ended by this gateway node (its lease lapsed, or the pump moved to another node)"
        do {
            // Shared with other nodes: only this session's own command (another node may hold
            // the pump now, with one in flight); nothing when it had none of ours in flight.
            let shared = store.databaseHealth != nil
            var sequence: UInt64? = nil
            if shared {
                guard let inFlight, case .change = inFlight.purpose else { return }
                sequence = inFlight.sequence
            }
            for request in try await store.markUncertain(
                forSerial: serial,
                sequence: sequence,
                note: note,
                now: clock()
            ) {
                logger.warning(
                    "session ended with a command unacknowledged; it is uncertain until the pump's next hello",
                    metadata: ["device": "\(serial)", "sequence": "\(request.sequence ?? 0)", "via": "\(carrier)"]
                )
                if let phone, owned {
                    reportObservation(
                        kind: "command_uncertain",
                        pump: serial,
                        phone: phone,
                        detail: "sequence \(request.sequence ?? 0) left unacknowledged through phone \(phone)"
                    )
                }
            }
        } catch {
            logger.error("could not mark commands uncertain", metadata: ["device": "\(serial)", "error": "\(error)"])
        }
    }

    // MARK: Delivery

    /// Carries out what the pump's delivery state machine says comes next: a lockout command
    /// first, then the next queued change. Each send is audited (sequence allocated and the
    /// entry durable) before the envelope exists.
    func deliverNext(_ serial: String, slot: PumpSlot) async {
        guard slot.delivery.session != nil, await ownsDelivery(serial) else { return }
        // A few tries: a request may expire or be cancelled between `next` and `markSent`.
        for _ in 0..<8 {
            switch slot.delivery.next() {
            case .wait:
                return
            case .sendLockoutStart(let suspend, let lockouts):
                await sendLockout(.start, suspend: suspend, lockouts: lockouts, serial: serial, slot: slot)
                return
            case .sendLockoutLift:
                await sendLockout(.lift, suspend: false, lockouts: [], serial: serial, slot: slot)
                return
            case .sendNextChange:
                if await sendNextChange(serial, slot: slot) { return }
            }
        }
    }

    /// Sends the oldest queued change; false when it should look again (the request moved on).
    private func sendNextChange(_ serial: String, slot: PumpSlot) async -> Bool {
        guard let session = slot.delivery.session else { return true }
        let now = clock()
        let request: ChangeRequest
        do {
            guard let next = try await store.next(for: serial, now: now) else { return true }
            request = next
        } catch {
            logger.error("could not read the queue", metadata: ["device": "\(serial)", "error": "\(error)"])
            return true
        }
        guard let expiresAt = request.expiresAt, let auditIndex = request.authorizingAuditIndex else {
            logger.error("queued request without expiry or audit index", metadata: ["request": "\(request.id)"])
            return true
        }
        let command = PumpCommand.change(request.change)
        // issued ≥ expiry − lifetime keeps the window within the table even if the clock stepped back.
        let lifetime = CommandLifetime.maximumMilliseconds(for: command.kind)
        let issuedAt = max(now, Timestamp(millisecondsSinceEpoch: expiresAt.millisecondsSinceEpoch &- lifetime))
        func envelope(_ sequence: UInt64) throws(TunnelProtocolError) -> CommandEnvelope {
            try CommandEnvelope(
                serial: serial,
                sequence: sequence,
                issuedAt: issuedAt,
                expiresAt: expiresAt,
                auditIndex: auditIndex,
                command: command
            )
        }
        do {
            _ = try envelope(1)  // a change the envelope cannot carry must not spend a sequence
        } catch {
            await cancelUndeliverable(request, because: error)
            return false
        }
        guard await passesFence(serial, beforeWrite: false) else { return true }
        let sent: ChangeRequest
        do {
            sent = try await store.markSent(request.id, now: now)
        } catch let error as ChangeRequestError
            where error.code == .illegalTransition || error.code == .commandExpired || error.code == .requestBusy
        {
            return false
        } catch {
            logger.error("could not mark a command sent", metadata: ["device": "\(serial)", "error": "\(error)"])
            return true
        }
        if configuration.crashAfterSendAudited { kill(getpid(), SIGKILL) }
        guard await passesFence(serial, beforeWrite: true) else {
            // In the log as sent, never on the wire. It is made uncertain here: the session's end
            // only marks the command it saw in flight, and this one never was; left `sent`, no
            // node would settle it (on a shared store a node leaves another's sent commands
            // alone). The pump's next hello, here or on the node that owns it then, settles it:
            // not applied.
            do {
                _ = try await store.markUncertain(
                    forSerial: serial,
                    sequence: sent.sequence,
                    note: "sent under a lease that ran out before the bytes were written",
                    now: now
                )
            } catch {
                logger.error(
                    "could not mark a command uncertain",
                    metadata: ["device": "\(serial)", "error": "\(error)"]
                )
            }
            session.channel.close()
            return true
        }
        do {
            let sequence = sent.sequence ?? 0
            let signed = try signer.sign(try envelope(sequence))
            slot.delivery.sent(
                PumpSlot.InFlightCommand(
                    sequence: sequence,
                    purpose: .change(sent.id),
                    sentAtMilliseconds: now.millisecondsSinceEpoch,
                    command: signed
                )
            )
            session.channel.send(InnerMessage.command(signed).encoded())
            logger.info(
                "command sent",
                metadata: ["device": "\(serial)", "request": "\(sent.id)", "sequence": "\(sequence)"]
            )
        } catch {
            // In the log as sent, never on the wire: end the session so that it becomes
            // uncertain now and the pump's next hello settles it (not applied).
            logger.error("could not sign a command; ending the session", metadata: ["error": "\(error)"])
            session.channel.close()
        }
        return true
    }

    private func cancelUndeliverable(_ request: ChangeRequest, because error: any Error) async {
        logger.error(
            "a change the command envelope cannot carry is cancelled",
            metadata: ["request": "\(request.id)", "error": "\(error)"]
        )
        do {
            _ = try await store.cancel(
                request.id,
                by: .gateway,
                note: "the command envelope cannot carry it",
                now: clock()
            )
        } catch {
            logger.error("could not cancel an undeliverable change", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Acknowledgements

    func acknowledged(_ signed: SignedAcknowledgement, on link: PumpLink, slot: PumpSlot) async {
        let serial = link.serial
        let sequence = signed.acknowledgement.sequence
        let verifier: AcknowledgementVerifier
        if let session = slot.delivery.session {
            verifier = session.verifier
        } else if let loaded = try? pumpKeys.verifier(for: serial) {
            verifier = loaded
        } else {
            await securityEvent("pump_key_unavailable", serial: serial, detail: "acknowledgement \(sequence) unchecked")
            return
        }
        if let inFlight = slot.delivery.inFlight, sequence == inFlight.sequence {
            let acknowledgement: CommandAcknowledgement
            do {
                acknowledgement = try verifier.verify(signed, answering: inFlight.command)
            } catch {
                await securityEvent(
                    "acknowledgement_rejected",
                    serial: serial,
                    reason: error.code.description,
                    detail: "for sequence \(sequence): \(error.reason); the command stays in flight"
                )
                return
            }
            _ = slot.delivery.acknowledged(
                sequence: sequence,
                applied: acknowledgement.result == .applied,
                pumpLockedOut: acknowledgement.mode.contains(.lockedOut)
            )
            switch inFlight.purpose {
            case .change:
                await settle(acknowledgement, evidence: signed.encoded, serial: serial, slot: slot)
            case .lockout(let command, let lockouts):
                await settleLockout(
                    acknowledgement,
                    command: command,
                    lockouts: lockouts,
                    evidence: signed.encoded,
                    serial: serial,
                    slot: slot
                )
            }
            return
        }
        // Not the answer to the command in flight: only a verified, late answer to an uncertain
        // command is of use; anything else is a replay or a duplicate.
        let acknowledgement: CommandAcknowledgement
        do {
            acknowledgement = try verifier.verify(signed)
        } catch {
            await securityEvent(
                "acknowledgement_rejected",
                serial: serial,
                reason: error.code.description,
                detail: "for sequence \(sequence), which is not in flight: \(error.reason)"
            )
            return
        }
        let request = try? await store.request(forPump: serial, sequence: sequence)
        guard let request, request.state == .uncertain else {
            await securityEvent(
                "unexpected_acknowledgement",
                serial: serial,
                detail: "a verified acknowledgement for sequence \(sequence), which is not in flight (request "
                    + "state: \(request?.state.name ?? "none"))"
            )
            return
        }
        await settle(acknowledgement, evidence: signed.encoded, serial: serial, slot: slot)
    }

    /// Records a verified acknowledgement and checks the settings it reports.
    private func settle(
        _ acknowledgement: CommandAcknowledgement,
        evidence: [UInt8],
        serial: String,
        slot: PumpSlot
    ) async {
        let now = clock()
        slot.reportedDigest = acknowledgement.settingsDigest
        let wasSuspended = slot.reportedMode.contains(.suspended)
        slot.noteMode(acknowledgement.mode, at: now)
        if acknowledgement.mode.contains(.suspended) != wasSuspended { await shareReport(serial) }
        let outcome: PumpOutcome
        switch acknowledgement.result {
        case .applied:
            outcome = .applied
        case .refused(.storageFailed):
            // The pump may or may not hold the change after its restart: its next hello says.
            await securityEvent(
                "pump_storage_failed",
                serial: serial,
                reason: CommandRefusal.storageFailed.description,
                detail: "sequence \(acknowledgement.sequence) is uncertain until the pump's next hello"
            )
            _ = try? await store.markUncertain(forSerial: serial, now: now)
            return
        case .refused(let refusal):
            outcome = .refused(code: refusal.description)
            if refusal == .replayedSequence {
                await securityEvent(
                    "sequence_replayed_by_pump",
                    serial: serial,
                    reason: refusal.description,
                    detail: "the pump refused fresh sequence \(acknowledgement.sequence) as seen before; the "
                        + "gateway's sequence is raised past \(acknowledgement.lastAppliedSequence)"
                )
                try? await store.raiseSequence(for: serial, atLeast: acknowledgement.lastAppliedSequence)
            }
        }
        do {
            let acknowledge = {
                try await self.store.markAcknowledged(
                    serial: serial,
                    sequence: acknowledgement.sequence,
                    outcome: outcome,
                    evidence: evidence,
                    now: now
                )
            }
            let request: ChangeRequest
            do {
                request = try await acknowledge()
            } catch let error as ChangeRequestError where error.code == .illegalTransition {
                // Another node made the command uncertain (its session with the pump ended late)
                // between our read and our step: the pump's signed answer settles it all the same.
                guard
                    try await store.request(forPump: serial, sequence: acknowledgement.sequence)?.state
                        == .uncertain
                else { throw error }
                request = try await acknowledge()
            }
            noteSettled(request, slot: slot)
            logger.info(
                "command acknowledged",
                metadata: [
                    "device": "\(serial)", "sequence": "\(acknowledgement.sequence)", "state": "\(request.state)",
                ]
            )
        } catch {
            logger.error(
                "could not record an acknowledgement",
                metadata: ["device": "\(serial)", "sequence": "\(acknowledgement.sequence)", "error": "\(error)"]
            )
        }
        await checkDigest(
            acknowledgement.settingsDigest,
            serial: serial,
            slot: slot,
            source: "acknowledgement of sequence \(acknowledgement.sequence)"
        )
    }

    /// Moves the cached expected settings on by a change the pump applied.
    private func noteSettled(_ request: ChangeRequest, slot: PumpSlot) {
        guard request.state == .applied, var expected = slot.expected else { return }
        expected.settings = expected.settings.applying(request.change)
        slot.expected = expected
    }

    // MARK: Expected settings

    /// The settings the pump should hold; nil while no clinician stated them.
    func expectedSettings(_ serial: String, therapy: PumpTherapy, slot: PumpSlot) async throws -> TherapySettings? {
        guard let baseline = therapy.settings else { return nil }
        if let cached = slot.expected, cached.version == therapy.version { return cached.settings }
        let applied = try await store.appliedRequests(forPump: serial, afterAuditIndex: therapy.auditIndex)
        let settings = PumpLedger.expectedSettings(baseline: baseline, applied: applied)
        slot.expected = PumpSlot.Expected(version: therapy.version, settings: settings)
        return settings
    }

    /// Compares what the pump reports with what the gateway expects; a difference holds the pump.
    private func checkDigest(_ digest: [UInt8], serial: String, slot: PumpSlot, source: String) async {
        let expected: TherapySettings?
        do {
            guard let therapy = try await store.therapy(for: serial) else { return }
            expected = try await expectedSettings(serial, therapy: therapy, slot: slot)
        } catch {
            logger.error("could not compute expected settings", metadata: ["device": "\(serial)", "error": "\(error)"])
            return
        }
        guard let expected else { return }
        let expectedDigest = SettingsDigest.sha256(of: expected)
        guard digest != expectedDigest else {
            slot.divergence = nil
            return
        }
        let wasDiverged = slot.divergence != nil
        slot.divergence =
            "the \(source) reports settings \(Self.short(digest)), the gateway expects \(Self.short(expectedDigest))"
        if !wasDiverged {
            await securityEvent(
                "settings_mismatch",
                serial: serial,
                detail: (slot.divergence ?? "") + "; deliveries and new changes wait until a clinician sets the pump's "
                    + "therapy with the settings it holds"
            )
        }
    }

    static func short(_ digest: [UInt8]) -> String {
        digest.prefix(6).map { String(format: "%02x", $0) }.joined() + "…"
    }

    // MARK: Security events

    /// Audits a security event (`security.event`), logs it and reports it to the gateway.
    @discardableResult
    func securityEvent(
        _ kind: String,
        serial: String,
        reason: String = "",
        detail: String
    ) async -> PipelineSecurityEvent {
        let now = clock()
        var index: UInt64?
        do {
            let payload = try JSONSerialization.data(
                withJSONObject: [
                    "schema": "medtunnel.security-event.v1", "event": kind, "reason": reason, "detail": detail,
                ],
                options: [.sortedKeys]
            )
            let event = try AuditEvent(
                timeMilliseconds: now.millisecondsSinceEpoch,
                actor: try AuditActor(id: ChangeActor.gateway.id, role: ChangeActor.gateway.role),
                kind: .securityEvent,
                pumpSerial: serial,
                payload: Array(payload)
            )
            index = try await audit.append(event).index
        } catch {
            logger.error("security event not audited", metadata: ["device": "\(serial)", "error": "\(error)"])
        }
        logger.warning(
            "security event",
            metadata: ["device": "\(serial)", "event": "\(kind)", "reason": "\(reason)", "detail": "\(detail)"]
        )
        let event = PipelineSecurityEvent(
            kind: kind,
            serial: serial,
            reason: reason,
            detail: detail,
            time: now,
            auditIndex: index
        )
        securityObserver.withLock { $0 }?(event)
        return event
    }
}

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
        if slot.session != nil {
            // The pump came back before the old session's end was reported: it is over.
            await sessionEnded(serial, slot: slot)
        }
        let verifier: AcknowledgementVerifier
        do {
            verifier = try pumpKeys.verifier(for: serial)
        } catch {
            await securityEvent(
                "pump_key_unavailable",
                serial: serial,
                detail: "no certificate to verify its acknowledgements (\(error)); the session is ended"
            )
            channel.close()
            return
        }
        slot.session = PumpSlot.Session(link: link, channel: channel, verifier: verifier)
        slot.reportedDigest = hello.settingsDigest
        logger.info(
            "pump said hello",
            metadata: ["device": "\(serial)", "session": "\(link.session)", "applied": "\(hello.lastAppliedSequence)"]
        )
        await reconcile(serial, hello: hello, slot: slot)
        await checkDigest(hello.settingsDigest, serial: serial, slot: slot, source: "hello")
    }

    /// Settles the pump's uncertain commands from its hello (never re-sends them).
    private func reconcile(_ serial: String, hello: InnerMessage.Hello, slot: PumpSlot) async {
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
                let settled = try await store.resolveUncertain(request.id, as: settlement, evidence: evidence, now: now)
                noteSettled(settled, slot: slot)
                logger.info(
                    "uncertain command settled from hello",
                    metadata: ["device": "\(serial)", "sequence": "\(sequence)", "state": "\(settled.state)"]
                )
            }
        } catch {
            logger.error("reconciliation failed", metadata: ["device": "\(serial)", "error": "\(error)"])
        }
    }

    // MARK: Session end

    /// The current session is over: a command in flight becomes uncertain (audited).
    func sessionEnded(_ serial: String, slot: PumpSlot) async {
        slot.session = nil
        slot.inFlight = nil
        do {
            for request in try await store.markUncertain(forSerial: serial, now: clock()) {
                logger.warning(
                    "session ended with a command unacknowledged; it is uncertain until the pump's next hello",
                    metadata: ["device": "\(serial)", "sequence": "\(request.sequence ?? 0)"]
                )
            }
        } catch {
            logger.error("could not mark commands uncertain", metadata: ["device": "\(serial)", "error": "\(error)"])
        }
    }

    // MARK: Delivery

    /// Sends the pump's next queued command if it is connected, nothing is in flight and its
    /// settings are as expected. The sequence is allocated and audited (`markSent`) before the
    /// envelope exists.
    func deliverNext(_ serial: String, slot: PumpSlot) async {
        // A few tries: a request may expire or be cancelled between `next` and `markSent`.
        for _ in 0..<8 {
            guard let session = slot.session, slot.inFlight == nil, slot.divergence == nil else { return }
            let now = clock()
            let request: ChangeRequest
            do {
                guard let next = try await store.next(for: serial, now: now) else { return }
                request = next
            } catch {
                logger.error("could not read the queue", metadata: ["device": "\(serial)", "error": "\(error)"])
                return
            }
            guard let expiresAt = request.expiresAt, let auditIndex = request.authorizingAuditIndex else {
                logger.error("queued request without expiry or audit index", metadata: ["request": "\(request.id)"])
                return
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
                continue
            }
            let sent: ChangeRequest
            do {
                sent = try await store.markSent(request.id, now: now)
            } catch let error as ChangeRequestError
                where error.code == .illegalTransition || error.code == .commandExpired || error.code == .requestBusy
            {
                continue
            } catch {
                logger.error("could not mark a command sent", metadata: ["device": "\(serial)", "error": "\(error)"])
                return
            }
            if configuration.crashAfterSendAudited { kill(getpid(), SIGKILL) }
            do {
                let signed = try signer.sign(try envelope(sent.sequence ?? 0))
                slot.inFlight = PumpSlot.InFlight(requestID: sent.id, command: signed, sentAt: now)
                session.channel.send(InnerMessage.command(signed).encoded())
                logger.info(
                    "command sent",
                    metadata: ["device": "\(serial)", "request": "\(sent.id)", "sequence": "\(sent.sequence ?? 0)"]
                )
            } catch {
                // In the log as sent, never on the wire: end the session so that it becomes
                // uncertain now and the pump's next hello settles it (not applied).
                logger.error("could not sign a command; ending the session", metadata: ["error": "\(error)"])
                session.channel.close()
            }
            return
        }
    }

    private func cancelUndeliverable(_ request: ChangeRequest, because error: any Error) async {
        logger.error(
            "a change the command envelope cannot carry is cancelled",
            metadata: ["request": "\(request.id)", "error": "\(error)"]
        )
        do {
            _ = try await store.cancel(request.id, by: .gateway, now: clock())
        } catch {
            logger.error("could not cancel an undeliverable change", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Acknowledgements

    func acknowledged(_ signed: SignedAcknowledgement, on link: PumpLink, slot: PumpSlot) async {
        let serial = link.serial
        let sequence = signed.acknowledgement.sequence
        let verifier: AcknowledgementVerifier
        if let session = slot.session {
            verifier = session.verifier
        } else if let loaded = try? pumpKeys.verifier(for: serial) {
            verifier = loaded
        } else {
            await securityEvent("pump_key_unavailable", serial: serial, detail: "acknowledgement \(sequence) unchecked")
            return
        }
        if let inFlight = slot.inFlight, sequence == inFlight.command.envelope.sequence {
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
            slot.inFlight = nil
            await settle(acknowledgement, evidence: signed.encoded, serial: serial, slot: slot)
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
        slot.reportedMode = acknowledgement.mode
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
            let request = try await store.markAcknowledged(
                serial: serial,
                sequence: acknowledgement.sequence,
                outcome: outcome,
                evidence: evidence,
                now: now
            )
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

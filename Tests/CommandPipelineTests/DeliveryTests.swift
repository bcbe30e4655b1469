import AuditLog
import ChangeRequests
import CommandAuthority
import CommandPipeline
import Foundation
import Testing
import TherapyModel
import TunnelProtocol

/// The pump side: expiry, sessions that drop, reconciliation from the hello, acknowledgements
/// that do not verify, a restarted gateway.
@Suite("Command pipeline: delivery and reconciliation")
struct DeliveryTests {
    static let serial = PipelineFixture.serial

    @Test("a command queued past its expiry is expired (audited) and never sent")
    func expiryWhileQueued() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            try await fixture.setTherapy()
            await pump.seenThenOffline(fixture)
            let queued = try await fixture.submit(PipelineFixture.bolus(2000))
            fixture.clock.advance(minutes: 4)
            await fixture.pipeline.sweep()
            #expect(try await fixture.request(queued.request.id).state == .queued)
            fixture.clock.advance(minutes: 1)  // a bolus lives 5 minutes (CommandLifetime)
            await fixture.pipeline.sweep()
            let expired = try await fixture.request(queued.request.id)
            #expect(expired.state == .expired)
            #expect(
                try await fixture.entries()[Int(try #require(expired.history.last).auditIndex)].event.kind
                    == .commandExpired
            )
            pump.connect()
            await fixture.pipeline.waitUntilIdle(Self.serial)
            #expect(pump.received.withLock { $0 }.isEmpty && pump.state.lastAppliedSequence == 0)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test("acknowledgement lost: uncertain when the session drops, settled applied from the next hello, never re-sent")
    func uncertainSettledApplied() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture, behaviour: .holdAcknowledgements)
        try await fixture.running {
            let first = try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump)
            #expect(pump.state.lastAppliedSequence == 1)  // applied, but the gateway never heard
            pump.disconnect()
            await fixture.pipeline.waitUntilIdle(Self.serial)
            #expect(try await fixture.request(first.request.id).state == .uncertain)
            #expect(try await fixture.entries(of: .commandUncertain).count == 1)

            // Queued meanwhile: waits behind the uncertain one.
            let second = try await fixture.submit(PipelineFixture.bolus(1000))
            pump.behaviour.withLock { $0 = .answer }
            pump.connect()
            await fixture.pipeline.waitUntilIdle(Self.serial)
            let settled = try await fixture.request(first.request.id)
            #expect(settled.state == .applied)
            #expect(settled.history.map(\.to) == [.accepted, .queued, .sent, .uncertain, .applied])
            #expect(try await fixture.entries(of: .commandReconciled).count == 1)
            #expect(try await fixture.request(second.request.id).state == .applied)
            #expect(pump.commands.map(\.envelope.sequence) == [1, 2])  // sequence 1 went out once
            #expect(pump.state.lastAppliedSequence == 2)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test("command lost: uncertain, settled not applied from the hello; the old envelope can never apply later")
    func uncertainSettledNotApplied() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture, behaviour: .swallowCommands)
        try await fixture.running {
            let lost = try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump)
            pump.disconnect()
            pump.behaviour.withLock { $0 = .answer }
            pump.connect()
            await fixture.pipeline.waitUntilIdle(Self.serial)
            let settled = try await fixture.request(lost.request.id)
            #expect(settled.state == .notApplied)
            #expect(pump.state.lastAppliedSequence == 0)

            let next = try await fixture.submit(PipelineFixture.bolus(2000))
            await fixture.pipeline.waitUntilIdle(Self.serial)
            #expect(try await fixture.request(next.request.id).state == .applied)
            #expect(try await fixture.request(next.request.id).sequence == 2)
            // A relay replaying the lost envelope now: the pump refuses it, the bolus is never given twice.
            let replay = try #require(pump.commands.first)
            #expect(replay.envelope.sequence == 1)
            let restartedPump = try TestPump(stateDirectory: pump.stateDirectory, fixture: fixture)
            #expect(restartedPump.answer(replay).acknowledgement.result == .refused(.replayedSequence))
            #expect(restartedPump.state.lastAppliedSequence == 2)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test(
        "an acknowledgement with a bad signature, or answering other bytes, is rejected and audited; the real one settles"
    )
    func forgedAcknowledgements() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture, behaviour: .holdAcknowledgements)
        try await fixture.running {
            let submitted = try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump)
            let real = try #require(pump.held.withLock { $0 }.first)

            var signature = real.signature
            signature[10] ^= 0x01
            pump.deliver(try SignedAcknowledgement(real.acknowledgement, signature: signature))
            await fixture.pipeline.waitUntilIdle(Self.serial)

            // Same pump key, same sequence, but the answer to other bytes (another envelope 1).
            let twin = try TestPump(fixture: fixture, behaviour: .holdAcknowledgements)
            let other = try SharedPKI.shared.signed(
                .change(.bolus(Milliunits(5000))),
                sequence: 1,
                at: fixture.clock.now()
            )
            let otherAnswer = twin.answer(other)
            #expect(otherAnswer.acknowledgement.sequence == 1)
            pump.deliver(otherAnswer)
            await fixture.pipeline.waitUntilIdle(Self.serial)

            #expect(try await fixture.request(submitted.request.id).state == .sent)
            #expect(await fixture.pipeline.status(of: Self.serial).inFlightSequence == 1)
            let events = try await fixture.auditedSecurityEvents()
            #expect(events.map(\.event) == ["acknowledgement_rejected", "acknowledgement_rejected"])
            #expect(events.map(\.reason) == ["bad_signature", "not_the_answer"])
            // Reported to the gateway's observer once audited, with the entry's index.
            let reported = fixture.reported.events.withLock { $0 }
            #expect(reported.map(\.kind) == events.map(\.event) && reported.allSatisfy { $0.auditIndex != nil })

            pump.deliver(real)
            await fixture.pipeline.waitUntilIdle(Self.serial)
            #expect(try await fixture.request(submitted.request.id).state == .applied)
            // A replay of the same acknowledgement later changes nothing and is recorded.
            pump.deliver(real)
            await fixture.pipeline.waitUntilIdle(Self.serial)
            #expect(try await fixture.auditedSecurityEvents().last?.event == "unexpected_acknowledgement")
            #expect(try await fixture.entries(of: .commandAcknowledged).count == 1)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test("an acknowledgement that never comes ends the session after the timeout; the command becomes uncertain")
    func acknowledgementTimeout() async throws {
        let fixture = try await PipelineFixture.make(acknowledgementTimeoutMilliseconds: 20_000)
        let pump = try TestPump(fixture: fixture, behaviour: .swallowCommands)
        try await fixture.running {
            let submitted = try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump)
            await fixture.pipeline.sweep()
            #expect(pump.closedByGateway.withLock { $0 } == 0)
            fixture.clock.advance(minutes: 1)
            await fixture.pipeline.sweep()
            await fixture.pipeline.sweep()  // once only
            #expect(pump.closedByGateway.withLock { $0 } == 1)
            #expect(try await fixture.auditedSecurityEvents().map(\.event) == ["acknowledgement_timeout"])
            pump.disconnect()  // what the gateway's session reports once closed
            await fixture.pipeline.waitUntilIdle(Self.serial)
            #expect(try await fixture.request(submitted.request.id).state == .uncertain)
        }
    }

    @Test("gateway restart with a command in flight: recover() makes it uncertain; the hello settles it applied")
    func restartInFlight() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture, behaviour: .holdAcknowledgements)
        let id = try await fixture.running {
            let submitted = try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump)
            return submitted.request.id
        }
        // The gateway dies here: the pump applied sequence 1, the acknowledgement is lost.
        let restarted = try await fixture.restarted()
        let report = try await restarted.pipeline.recover()
        #expect(report.markedUncertain.map(\.id) == [id])
        let samePump = try TestPump(stateDirectory: pump.stateDirectory, fixture: restarted)
        try await restarted.running {
            samePump.connect()
            await restarted.pipeline.waitUntilIdle(Self.serial)
            #expect(try await restarted.request(id).state == .applied)
            #expect(samePump.received.withLock { $0 }.isEmpty)  // settled, not re-sent
            try await expectAuditAgreesWithPump(restarted, samePump)
        }
    }

    @Test("settings that differ from the expected hold the pump: security event, 409, until the therapy is set again")
    func settingsMismatch() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            var claimed = PipelineFixture.factory
            claimed.maxBolus = Milliunits(8000)
            try await fixture.setTherapy(settings: claimed)  // the pump has not reported yet
            pump.connect()
            await fixture.pipeline.waitUntilIdle(Self.serial)
            #expect(try await fixture.auditedSecurityEvents().map(\.event) == ["settings_mismatch"])
            #expect(await fixture.pipeline.status(of: Self.serial).settingsDivergence != nil)
            let held = await apiError { try await fixture.submit(PipelineFixture.bolus(2000)) }
            #expect(held?.status == 409 && held?.reason == "settings_unverified")

            // A clinician restating settings the pump does not hold is refused too.
            let wrong = await apiError { try await fixture.setTherapy(settings: claimed) }
            #expect(wrong?.status == 409 && wrong?.reason == "settings_mismatch")
            try await fixture.setTherapy()
            #expect(await fixture.pipeline.status(of: Self.serial).settingsDivergence == nil)
            let submitted = try await fixture.submit(PipelineFixture.bolus(2000))
            await fixture.pipeline.waitUntilIdle(Self.serial)
            #expect(try await fixture.request(submitted.request.id).state == .applied)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test("setting the therapy: clinicians of the patient only, strict JSON, audited")
    func setTherapy() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.pair()
            for (user, reason) in [("alice", "not_authorized"), ("drwho", "not_authorized")] {
                let error = await apiError {
                    try await fixture.pipeline.setTherapy(
                        serial: Self.serial,
                        body: PipelineFixture.therapyBody(),
                        authorization: try await fixture.bearer(user)
                    )
                }
                #expect(error?.status == 403 && error?.reason == reason, "\(user)")
            }
            let noSettings = await apiError {
                try await fixture.pipeline.setTherapy(
                    serial: Self.serial,
                    body: Data("{\"prescription\": \(PipelineFixture.prescriptionJSON), \"model\": {}}".utf8),
                    authorization: try await fixture.bearer("drsmith")
                )
            }
            #expect(noSettings?.status == 400)
            #expect(noSettings?.message.hasPrefix("therapy.") == true)
            let unauthenticated = await apiError {
                try await fixture.pipeline.setTherapy(
                    serial: Self.serial,
                    body: PipelineFixture.therapyBody(),
                    authorization: nil
                )
            }
            #expect(unauthenticated?.status == 401 && unauthenticated?.reason == "missing")
            let therapy = try await fixture.setTherapy()
            #expect(therapy.version == 1 && therapy.settings == PipelineFixture.factory)
            let entry = try await fixture.entries()[Int(therapy.auditIndex)]
            #expect(entry.event.kind == .pumpTherapySet && entry.event.actor.id == "drsmith")
            #expect(try await fixture.entries(of: .accessDenied).count == 2)
        }
    }
}

import AuditLog
import ChangeRequests
import CommandPipeline
import Foundation
import Testing
import TherapyModel
import TunnelProtocol

/// What a hostile or broken link between the gateway and the pump can do to the command path,
/// short of breaking TLS (which the TLS tests cover): every command still ends applied once,
/// or not applied, and the audit log agrees with the pump.
@Suite("Command pipeline: a hostile link")
struct HostileLinkTests {
    static let serial = PipelineFixture.serial

    @Test("a duplicated command is applied once; the second answer, and a replay in a later session, change nothing")
    func duplicatedCommand() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture, behaviour: .duplicateCommands)
        try await fixture.running {
            let submitted = try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump)
            #expect(try await fixture.request(submitted.request.id).state == .applied)
            #expect(pump.state.lastAppliedSequence == 1)
            #expect(try await fixture.entries(of: .commandAcknowledged).count == 1)
            #expect(try await fixture.auditedSecurityEvents().map(\.event) == ["unexpected_acknowledgement"])

            // The first acknowledgement replayed into a new session.
            let first = pump.answer(try #require(pump.commands.first))  // a fresh answer: replayed_sequence
            pump.disconnect()
            pump.behaviour.withLock { $0 = .answer }
            pump.connect()
            pump.deliver(first)
            await fixture.pipeline.waitUntilIdle(Self.serial)
            #expect(try await fixture.request(submitted.request.id).state == .applied)
            #expect(try await fixture.auditedSecurityEvents().map(\.event).last == "unexpected_acknowledgement")
            #expect(try await fixture.entries(of: .commandAcknowledged).count == 1)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test("a command held past its expiry by the link is refused by the pump (expired) and recorded so")
    func delayedPastExpiry() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture, behaviour: .delayCommands)
        try await fixture.running {
            let submitted = try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump)
            #expect(try await fixture.request(submitted.request.id).state == .sent)
            fixture.clock.advance(minutes: 6)
            pump.releaseDelayed()
            await fixture.pipeline.waitUntilIdle(Self.serial)
            let request = try await fixture.request(submitted.request.id)
            #expect(request.state == .refusedByPump(code: "expired"))
            #expect(pump.state.lastAppliedSequence == 0 && pump.state.highWaterSequence == 1)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test("a pump reporting sequences the gateway never sent: security event, the gateway's sequence moves past them")
    func pumpAheadOfGateway() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        for sequence in UInt64(1)...3 {
            let command = try SharedPKI.shared.signed(
                .change(.bolus(Milliunits(500))),
                sequence: sequence,
                at: fixture.clock.now()
            )
            #expect(pump.answer(command).acknowledgement.result == .applied)
        }
        try await fixture.running {
            let submitted = try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump)
            #expect(try await fixture.auditedSecurityEvents().map(\.event) == ["pump_ahead_of_gateway"])
            let request = try await fixture.request(submitted.request.id)
            #expect(request.state == .applied && request.sequence == 4)
            #expect(pump.state.lastAppliedSequence == 4)
        }
    }

    @Test(
        "gateway killed after the send was audited, before the command left: recovered uncertain, settled not applied"
    )
    func crashBeforeDelivery() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture, behaviour: .swallowCommands)
        let id = try await fixture.running {
            try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump).request.id
        }
        #expect(try await fixture.request(id).state == .sent)
        let restarted = try await fixture.restarted()
        #expect(try await restarted.pipeline.recover().markedUncertain.map(\.id) == [id])
        let samePump = try TestPump(stateDirectory: pump.stateDirectory, fixture: restarted)
        try await restarted.running {
            samePump.connect()
            await restarted.pipeline.waitUntilIdle(Self.serial)
            #expect(try await restarted.request(id).state == .notApplied)
            let next = try await restarted.submit(PipelineFixture.bolus(2000))
            await restarted.pipeline.waitUntilIdle(Self.serial)
            #expect(try await restarted.request(next.request.id).state == .applied)
            #expect(samePump.state.lastAppliedSequence == 2)
            try await expectAuditAgreesWithPump(restarted, samePump)
        }
    }
}

/// What the pump itself refuses after the gateway accepted: recorded with the pump's code.
@Suite("Command pipeline: the pump's own refusals")
struct PumpRefusalTests {
    static let serial = PipelineFixture.serial

    @Test(
        "a pump whose real model is coarser than the one stated refuses on its hard limits; recorded as refused_by_pump"
    )
    func hardLimit() async throws {
        let fixture = try await PipelineFixture.make()
        let stated = PipelineFixture.model
        let coarse = try PumpModel(
            name: "a 0.1 U pump",
            bolusStep: Milliunits(100),
            basalRateStep: stated.basalRateStep,
            maxBolus: stated.maxBolus,
            maxBasalRate: stated.maxBasalRate,
            maxScheduleEntries: stated.maxScheduleEntries,
            minimumSegmentMinutes: stated.minimumSegmentMinutes,
            tempBasalDurationStepMinutes: stated.tempBasalDurationStepMinutes,
            maxTempBasalDurationMinutes: stated.maxTempBasalDurationMinutes,
            supportedControls: stated.supportedControls
        )
        let pump = try TestPump(fixture: fixture, model: coarse)
        try await fixture.running {
            let submitted = try await fixture.connectAndSubmit(PipelineFixture.bolus(2050), pump: pump)
            #expect(submitted.status == 201)  // 2.05 U is on the stated model's 0.05 U grid
            let request = try await fixture.request(submitted.request.id)
            #expect(request.state == .refusedByPump(code: "hard_limit:pump_increment_mismatch"))
            #expect(pump.state.lastAppliedSequence == 0 && pump.state.highWaterSequence == 1)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test(
        "a pump under a lockout this gateway never sent: its hello says so, the policy rejects pump_locked_out, nothing is sent, and the gateway does not lift it"
    )
    func lockout() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        let lockout = try SharedPKI.shared.signed(
            .lockoutStart(suspendDelivery: false),
            sequence: 1,
            at: fixture.clock.now()
        )
        #expect(pump.answer(lockout).acknowledgement.mode.contains(.lockedOut))
        try await fixture.running {
            let first = try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump)
            #expect(first.status == 422)
            #expect(first.request.decision.reasons.map(\.code) == ["pump_locked_out"])
            #expect(pump.commands.isEmpty, "the gateway sent something to a pump locked by someone else")
            #expect(pump.state.isLockedOut)
            #expect(
                try await fixture.auditedSecurityEvents().map(\.event) == [
                    "pump_ahead_of_gateway", "pump_reports_unknown_lockout",
                ]
            )
        }
    }
}

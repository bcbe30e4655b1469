import ChangeRequests
import CommandPipeline
import Foundation
import PumpRuntime
import Testing
import TherapyModel
import TunnelProtocol

/// A suspended pump through the real pipeline and pump runtime: the gateway refuses a bolus from
/// what the pump reports, and the pump refuses one on its own when the gateway is bypassed.
@Suite("Clinical state through the pipeline")
struct ClinicalStateDeliveryTests {
    @Test(
        "suspend, bolus (rejected pump_suspended, nothing sent), resume, bolus (applied); a signed bolus fed to the suspended pump directly is refused `suspended`"
    )
    func suspendBolusResumeBolus() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            let pump = try TestPump(fixture: fixture)
            pump.connect()
            let suspend = try await fixture.submit(Data(#"{"kind": "suspend"}"#.utf8))
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(try await fixture.request(suspend.request.id).state == .applied)
            #expect(pump.state.mode.contains(.suspended))

            let refused = try await fixture.submit(PipelineFixture.bolus(500))
            #expect(refused.status == 422)
            #expect(refused.request.decision.reasons.map(\.code) == ["pump_suspended"])
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(pump.commands.count == 1, "something but the suspend was sent")

            let resume = try await fixture.submit(Data(#"{"kind": "resume"}"#.utf8))
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(try await fixture.request(resume.request.id).state == .applied)
            pump.sendTelemetry()
            let bolus = try await fixture.submit(PipelineFixture.bolus(500))
            #expect(bolus.status == 201)
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(try await fixture.request(bolus.request.id).state == .applied)

            // Suspended again, then the gateway bypassed: the pump refuses on its own (a refused
            // command still spends its sequence, so this comes last).
            _ = try await fixture.submit(Data(#"{"kind": "suspend"}"#.utf8))
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(pump.state.mode.contains(.suspended))
            // The gateway bypassed: a bolus signed with its own key, straight to the pump.
            let direct = try SharedPKI.shared.signed(
                .change(.bolus(Milliunits(500))),
                sequence: 100,
                at: fixture.clock.now()
            )
            #expect(pump.answer(direct).content.result == .refused(.suspended))

        }
    }

    @Test("a pump that never reported: a bolus needs a second person (pump_state_unknown, glucose_unknown)")
    func neverReported() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            let held = try await fixture.submit(PipelineFixture.bolus(2_000))
            #expect(held.status == 202)
            #expect(held.request.decision.reasons.map(\.code) == ["pump_state_unknown", "glucose_unknown"])
        }
    }
}

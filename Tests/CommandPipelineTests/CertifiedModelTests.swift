import CommandPipeline
import Foundation
import MedTunnelPKI
import Testing

/// The pump model the gateway uses (lockouts by `model:`) is the one the CA wrote into the pump's
/// certificate at enrollment, not the one the pump's hello announces.
@Suite("the pump model comes from its certificate")
struct CertifiedModelTests {
    @Test("PumpKeys reads the model from the certificate; a certificate without one gives nil")
    func pumpKeysReadModel() throws {
        let facts = try PumpKeys.pki(SharedPKI.shared.directory).facts(for: SharedPKI.certifiedSerial)
        #expect(facts.model == SharedPKI.certifiedModel)
        #expect(facts.verifier.serial == SharedPKI.certifiedSerial)
        #expect(try PumpKeys.pki(SharedPKI.shared.directory).facts(for: "PUMP-0001").model == nil)
    }

    @Test(
        "a hello naming another model is recorded as pump_model_mismatch; a lockout by the hello's model misses the pump, by the certificate's it locks it"
    )
    func certificateWins() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            let pump = try TestPump(
                serial: SharedPKI.certifiedSerial,
                fixture: fixture,
                model: LockoutTests.otherModel,
                firmware: "fw-a"
            )
            pump.connect()
            await fixture.pipeline.waitUntilIdle(pump.serial)
            let events = try await fixture.auditedSecurityEvents().map(\.event)
            #expect(events.contains("pump_model_mismatch"), "\(events)")

            _ = try await fixture.pipeline.startLockout(
                body: LockoutTests.body("model:\(LockoutTests.otherModel.name)"),
                authorization: try await fixture.bearer("ines")
            )
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(!pump.state.isLockedOut, "the hello's model locked the pump out")

            _ = try await fixture.pipeline.startLockout(
                body: LockoutTests.body("model:\(SharedPKI.certifiedModel)"),
                authorization: try await fixture.bearer("ines")
            )
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(pump.state.isLockedOut, "the certificate's model did not lock the pump out")
        }
    }

    @Test("a certificate without a model (a migrated PKI) leaves the hello's model and records no mismatch")
    func matchingModel() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            let pump = try TestPump(serial: "PUMP-0003", fixture: fixture, firmware: "fw-a")
            pump.connect()
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(!(try await fixture.auditedSecurityEvents().map(\.event).contains("pump_model_mismatch")))
        }
    }
}

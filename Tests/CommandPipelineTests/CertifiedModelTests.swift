import CommandPipeline
import Foundation
import MedTunnelPKI
import Testing
import TherapyJSON
import TherapyModel

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

@Suite("Therapy takes the pump model the certificate names")
struct CertifiedTherapyModelTests {
    @Test(
        "a therapy whose pump model is not the certificate's is 409 model_mismatch; without a model in the certificate the body's is taken"
    )
    func therapyModelMustMatch() async throws {
        let fixture = try await PipelineFixture.make()
        let serial = SharedPKI.certifiedSerial
        try await fixture.pair(serial: serial)
        let m = PipelineFixture.model
        let looser = try PumpModel(
            name: "Some other pump",
            bolusStep: m.bolusStep,
            basalRateStep: m.basalRateStep,
            maxBolus: m.maxBolus,
            maxBasalRate: m.maxBasalRate,
            maxScheduleEntries: m.maxScheduleEntries,
            minimumSegmentMinutes: m.minimumSegmentMinutes,
            tempBasalDurationStepMinutes: m.tempBasalDurationStepMinutes,
            maxTempBasalDurationMinutes: m.maxTempBasalDurationMinutes,
            supportedControls: m.supportedControls
        )
        let model = String(decoding: TherapyJSON.encode(looser), as: UTF8.self)
        let settings = String(decoding: TherapyJSON.encode(PipelineFixture.factory), as: UTF8.self)
        let body = Data(
            "{\"prescription\": \(PipelineFixture.prescriptionJSON), \"model\": \(model), \"settings\": \(settings)}"
                .utf8
        )
        try await fixture.running {
            let error = await apiError {
                _ = try await fixture.pipeline.setTherapy(
                    serial: serial,
                    body: body,
                    authorization: try await fixture.bearer("drsmith")
                )
            }
            #expect(error?.status == 409 && error?.reason == "model_mismatch")
            #expect(error?.message.contains(SharedPKI.certifiedModel) == true, "\(String(describing: error))")
            #expect(try await fixture.store.therapy(for: serial) == nil)
            // A pump whose certificate names no model (a migrated PKI) takes the body's.
            try await fixture.pair()
            let therapy = try await fixture.setTherapy()
            #expect(therapy.model.name == PipelineFixture.model.name)
        }
    }
}

import AuditLog
import ChangeRequests
import CommandPipeline
import Foundation
import PumpSimulator
import Synchronization
import Testing
import TunnelProtocol

@Suite("Pairing end to end: the pump's code through a real gateway and phone relay")
struct PairingPathTests {
    /// What the pump's screen shows, as the patient's app would scan it.
    final class Screen: Sendable {
        let code = Mutex<SignedPairingCode?>(nil)
    }

    @Test(
        "the pump shows and offers its code, alice posts it, the binding is audited, drsmith sets therapy, a bolus is applied"
    )
    func pairThenBolus() async throws {
        try await CommandPath.run(interposer: { _, _ in }) { path in
            let screen = Screen()
            path.pump.pairing = PumpPairing { code in screen.code.withLock { $0 = code } }
            // Before pairing, the clinician cannot set the pump's therapy.
            let early = await pipelineError { try await path.setTherapyWithoutPairing() }
            #expect(early?.status == 409 && early?.reason == "pump_not_paired")

            let session = path.session(telemetry: 1_000_000)
            try await path.connected(session)
            // The pump makes its code when its hello is accepted, which may follow the
            // gateway's view of the session by a moment.
            try await path.until("the pump shows its code") { screen.code.withLock { $0 } != nil }
            let code = try #require(screen.code.withLock { $0 })
            #expect(code.content.serial == CommandPath.serial)
            // The offer travels the tunnel after the hello; post once it has arrived.
            var binding: PumpBinding?
            try await path.until("the gateway takes the offered code") {
                do {
                    binding = try await path.postPairingCode(code.text)
                    return true
                } catch let error as ChangeAPIError where error.reason == "pairing_code_not_offered" {
                    return false
                }
            }
            let bound = try #require(binding)
            #expect(bound.patientID == "patient-001" && bound.phoneID == "PHONE-1")
            let paired = try #require(try await path.entries().first { $0.event.kind == .pumpPaired })
            #expect(paired.event.actor.id == "alice" && paired.event.pumpSerial == CommandPath.serial)
            #expect(!String(decoding: paired.event.payload, as: UTF8.self).contains(code.text))

            // A replay of the same code is refused.
            let replay = await pipelineError { try await path.postPairingCode(code.text) }
            #expect(replay?.status == 409 && replay?.reason == "pairing_code_used")

            try await path.setTherapy()
            let bolus = try await path.bolus(1_000)
            let settled = try await path.settled(bolus.id)
            #expect(settled.state == .applied)
            await session.stop()
            _ = try await path.expectAuditAgreesWithPump()
        }
    }
}

func pipelineError<T>(_ body: () async throws -> T) async -> ChangeAPIError? {
    do {
        _ = try await body()
        return nil
    } catch let error as ChangeAPIError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

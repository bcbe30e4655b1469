import AuditLog
import ChangeRequests
import CommandPipeline
import Foundation
import MedTunnelPKI
import MedTunnelTestSupport
import PumpRuntime
import Testing
import TherapyModel
import TunnelProtocol

@Suite("Pairing: a patient binds a pump by the code it shows")
struct PairingTests {
    static func body(_ text: String) -> Data {
        try! JSONSerialization.data(withJSONObject: ["code": text])
    }

    func post(_ fixture: PipelineFixture, _ text: String, as user: String = "alice") async throws -> PumpBinding {
        try await fixture.pipeline.pair(body: Self.body(text), authorization: try await fixture.bearer(user))
    }

    @Test("a code the pump offers through its tunnel pairs it: audited with the nonce's hash, never the code")
    func pairs() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            pump.connect()
            let code = try pump.offerPairingCode()
            let binding = try await post(fixture, code.text)
            #expect(binding.pumpSerial == pump.serial && binding.patientID == "patient-001")
            #expect(binding.phoneID == "PHONE-1" && binding.boundBy == "alice")
            #expect(try await fixture.pipeline.pumpPatient(pump.serial) == "patient-001")
            let entry = try #require(try await fixture.entries(of: .pumpPaired).first)
            #expect(entry.event.actor.id == "alice" && entry.event.pumpSerial == pump.serial)
            let payload = String(decoding: entry.event.payload, as: UTF8.self)
            #expect(payload.contains("\"nonceHash\"") && payload.contains("patient-001"))
            let nonceBase64 = Base64URL.encode(code.content.nonce)
            for entry in try await fixture.entries() {
                let text = String(decoding: entry.event.payload, as: UTF8.self)
                #expect(!text.contains(code.text) && !text.contains(nonceBase64))
            }
            // The clinician then sets its therapy, and alice's bolus is applied.
            try await fixture.setTherapy()
            let bolus = try await fixture.submit(PipelineFixture.bolus(1_000))
            #expect(bolus.status == 201)
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(try await fixture.request(bolus.request.id).state == .applied)
        }
    }

    @Test("malformed codes and bodies are refused 400 pairing_code_invalid")
    func malformed() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            pump.connect()
            let text = try pump.offerPairingCode().text
            for bad in ["", "MTPAIR1.", String(text.dropLast()), "MTPAIR2" + text.dropFirst(7), text + "."] {
                let error = await apiError { try await post(fixture, bad) }
                #expect(error?.status == 400 && error?.reason == "pairing_code_invalid", "\(bad.prefix(20))")
            }
            let notJSON = await apiError {
                try await fixture.pipeline.pair(
                    body: Data("code".utf8),
                    authorization: try await fixture.bearer("alice")
                )
            }
            #expect(notJSON?.reason == "pairing_code_invalid")
            #expect(try await fixture.pipeline.pumpPatient(pump.serial) == nil)
        }
    }

    @Test("a tampered code (a later expiry re-encoded) is refused 400 pairing_code_unverified")
    func tampered() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            pump.connect()
            let code = try pump.offerPairingCode()
            let later = try PairingCode(
                serial: code.content.serial,
                nonce: code.content.nonce,
                expiresAt: code.content.expiresAt.advanced(byMinutes: 600)
            )
            let forged = try SignedPairingCode(later, signature: code.signature)
            let error = await apiError { try await post(fixture, forged.text) }
            #expect(error?.status == 400 && error?.reason == "pairing_code_unverified")
            // A code naming a pump with no certificate here is unverified too.
            let stranger = try SignedPairingCode(
                try PairingCode(serial: "PUMP-9999", nonce: code.content.nonce, expiresAt: later.expiresAt),
                signature: code.signature
            )
            let unknown = await apiError { try await post(fixture, stranger.text) }
            #expect(unknown?.reason == "pairing_code_unverified")
        }
    }

    @Test("a code signed by a pump of another CA (same serial) is refused 400 pairing_code_unverified")
    func foreignCA() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        let foreign = try ThrowawayPKI(pumps: [pump.serial], prefix: "foreign-pki")
        defer { foreign.remove() }
        let runtime = try PumpRuntime(
            PumpRuntime.Configuration(
                serial: pump.serial,
                model: PipelineFixture.model,
                commandPublicKeyPEM: try foreign.gateway.commandPublicKeyPEM(),
                deviceKeyPEM: try foreign.keyPEM(.pump(serial: pump.serial)),
                stateFilePath: foreign.root.appendingPathComponent("pump.state").path
            ),
            factorySettings: PipelineFixture.factory
        )
        try await fixture.running {
            pump.connect()
            let code = try runtime.pairingCode(nonce: Array(repeating: 7, count: 16), now: fixture.clock.now())
            // Even offered (a phone could not forge the offer, but assume it): still refused.
            fixture.pipeline.pairingOffer(
                InnerMessage.PairingOffer(code.content),
                on: try #require(pump.link.withLock { $0 })
            )
            let error = await apiError { try await post(fixture, code.text) }
            #expect(error?.status == 400 && error?.reason == "pairing_code_unverified")
        }
    }

    @Test("a code of a revoked pump is refused 409 pump_revoked")
    func revoked() async throws {
        let fixture = try await PipelineFixture.make(revokedPumps: [PipelineFixture.serial])
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            pump.connect()
            let error = await apiError { try await post(fixture, try pump.offerPairingCode().text) }
            #expect(error?.status == 409 && error?.reason == "pump_revoked")
        }
    }

    @Test("an expired code is refused 410 pairing_code_expired, by the gateway's clock")
    func expired() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            pump.connect()
            let code = try pump.offerPairingCode()
            fixture.clock.advance(minutes: 10)
            let error = await apiError { try await post(fixture, code.text) }
            #expect(error?.status == 410 && error?.reason == "pairing_code_expired")
            let body = String(decoding: error?.response.body ?? [], as: UTF8.self)
            #expect(body.contains("\"gone\""))
        }
    }

    @Test("a code its pump never offered through its tunnel (a photo) is refused 409 pairing_code_not_offered")
    func notOffered() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            pump.connect()
            let offered = try pump.offerPairingCode()
            let photo = try pump.offerPairingCode(offer: false)
            #expect(photo.content.nonce != offered.content.nonce)
            let error = await apiError { try await post(fixture, photo.text) }
            #expect(error?.status == 409 && error?.reason == "pairing_code_not_offered")
        }
    }

    @Test("a replayed code is refused 409 pairing_code_used, even after the pump was unpaired")
    func replayed() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            pump.connect()
            let code = try pump.offerPairingCode()
            _ = try await post(fixture, code.text)
            _ = try await fixture.pipeline.requestUnpair(
                serial: pump.serial,
                authorization: try await fixture.bearer("alice")
            )
            _ = try await fixture.pipeline.requestUnpair(
                serial: pump.serial,
                authorization: try await fixture.bearer("drsmith")
            )
            #expect(try await fixture.pipeline.pumpPatient(pump.serial) == nil)
            let error = await apiError { try await post(fixture, code.text) }
            #expect(error?.status == 409 && error?.reason == "pairing_code_used")
        }
    }

    @Test("a second code for a paired pump is refused 409 pump_already_paired")
    func alreadyPaired() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            pump.connect()
            _ = try await post(fixture, try pump.offerPairingCode().text)
            let error = await apiError { try await post(fixture, try pump.offerPairingCode().text) }
            #expect(error?.status == 409 && error?.reason == "pump_already_paired")
            #expect(try await fixture.entries(of: .pumpPaired).count == 1)
        }
    }

    @Test("only a patient pairs: a clinician, caregiver or operator is refused 403 before the code is read")
    func wrongRole() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            pump.connect()
            let code = try pump.offerPairingCode()
            for user in ["drsmith", "carol", "olga"] {
                let error = await apiError { try await post(fixture, code.text, as: user) }
                #expect(error?.status == 403 && error?.reason == "not_authorized", "\(user)")
            }
            let garbage = await apiError { try await post(fixture, "junk", as: "drsmith") }
            #expect(garbage?.status == 403)
            #expect(try await fixture.pipeline.pumpPatient(pump.serial) == nil)
            let unauthenticated = await apiError {
                try await fixture.pipeline.pair(body: Self.body(code.text), authorization: nil)
            }
            #expect(unauthenticated?.status == 401)
        }
    }
}

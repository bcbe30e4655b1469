import CommandAuthority
import Testing
import TherapyModel
import TunnelProtocol

@Suite("Pairing code signing (mbedTLS on the pump, swift-crypto at the gateway)")
struct PairingCodeSigningTests {
    static let nonce: [UInt8] = (0..<16).map { UInt8($0 * 3) }

    @Test("a code the pump signs verifies with its certificate and expires 10 minutes later")
    func signsAndVerifies() throws {
        let fixture = try RuntimeFixture()
        let runtime = try fixture.runtime()
        let signed = try runtime.pairingCode(nonce: Self.nonce, now: RuntimeFixture.now)
        #expect(signed.content.serial == RuntimeFixture.serial)
        #expect(signed.content.expiresAt == RuntimeFixture.now.advanced(byMinutes: 10))
        let verifier = PairingCodeVerifier(
            try AcknowledgementVerifier(pumpCertificatePEM: RuntimeFixture.pki.certificatePEM)
        )
        let parsed = try SignedPairingCode(text: signed.text)
        #expect(try verifier.verify(parsed) == signed.content)
    }

    @Test("a tampered code, or one checked with another pump's certificate, is refused")
    func refusals() throws {
        let fixture = try RuntimeFixture()
        let signed = try fixture.runtime().pairingCode(nonce: Self.nonce, now: RuntimeFixture.now)
        let verifier = PairingCodeVerifier(
            try AcknowledgementVerifier(pumpCertificatePEM: RuntimeFixture.pki.certificatePEM)
        )
        let later = try PairingCode(
            serial: signed.content.serial,
            nonce: signed.content.nonce,
            expiresAt: signed.content.expiresAt.advanced(byMinutes: 60)
        )
        let tampered = #expect(throws: CommandAuthorityError.self) {
            try verifier.verify(try SignedPairingCode(later, signature: signed.signature))
        }
        #expect(tampered?.code == .badSignature)
        let other = PairingCodeVerifier(
            try AcknowledgementVerifier(pumpCertificatePEM: RuntimeFixture.pki.otherCertificatePEM)
        )
        let foreign = #expect(throws: CommandAuthorityError.self) { try other.verify(signed) }
        #expect(foreign?.code == .wrongSerial)
    }
}

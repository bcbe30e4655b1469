import CommandAuthority
import Crypto
import Foundation
import MedTunnelPKI
import MedTunnelTestSupport
import PumpRuntime
import Testing
import TherapyModel
import TunnelProtocol

@Suite("Gateway (swift-crypto) and pump (mbedTLS) interoperate")
struct CommandInteropTests {
    let fixture: RuntimeFixture

    init() throws { self.fixture = try RuntimeFixture() }

    @Test("swift-crypto signs, mbedTLS verifies: 50 envelopes in a row all apply")
    func gatewaySignsPumpVerifies() throws {
        let pump = try self.fixture.runtime()
        for sequence in UInt64(1)...50 {
            let command = try self.fixture.command(
                .change(.bolus(Milliunits(Int64(sequence) * 50))),
                sequence: sequence
            )
            #expect(try self.fixture.send(command, to: pump) == .applied)
        }
    }

    @Test("mbedTLS signs the acknowledgement, swift-crypto verifies it; tampering or the wrong pump is refused")
    func pumpSignsGatewayVerifies() throws {
        let pump = try self.fixture.runtime()
        let command = try self.fixture.command(RuntimeFixture.bolus, sequence: 1)
        let signed = pump.handle(commandBody: command.encoded, now: RuntimeFixture.now)
        let verifier = try AcknowledgementVerifier(pumpCertificatePEM: RuntimeFixture.pki.certificatePEM)
        #expect(verifier.serial == RuntimeFixture.serial)
        #expect(try verifier.verify(signed, answering: command).result == .applied)

        var tampered = signed.encoded
        tampered[2 + 9 + 8 + 32] = CommandRefusal.expired.code  // applied → expired, signature unchanged
        let forged = try SignedAcknowledgement.decode(tampered[...])
        #expect(throws: CommandAuthorityError.self) { try verifier.verify(forged) }
        #expect(Self.code { try verifier.verify(forged) } == .badSignature)

        let other = try AcknowledgementVerifier(pumpCertificatePEM: RuntimeFixture.pki.otherCertificatePEM)
        #expect(Self.code { try other.verify(signed) } == .badSignature)

        let different = try self.fixture.command(RuntimeFixture.bolus, sequence: 2)
        #expect(Self.code { try verifier.verify(signed, answering: different) } == .notTheAnswer)
    }

    static func code<T>(_ body: () throws -> T) -> CommandAuthorityError.Code? {
        do {
            _ = try body()
            return nil
        } catch let error as CommandAuthorityError {
            return error.code
        } catch {
            Issue.record("not a CommandAuthorityError: \(error)")
            return nil
        }
    }

    @Test("the settings digest is the same from mbedTLS and swift-crypto for many settings")
    func digestsAgree() throws {
        let pump = try self.fixture.runtime()
        #expect(pump.settingsDigest == SettingsDigest.sha256(of: pump.state.settings))
        for sequence in UInt64(1)...20 {
            let rate = MilliunitsPerHour(Int64(sequence) * 50)
            let schedule = try DailySchedule([
                .init(startMinute: 0, value: rate),
                .init(startMinute: Int(sequence) * 30, value: MilliunitsPerHour(50)),
            ])
            let command = try self.fixture.command(.change(.setBasalSchedule(schedule)), sequence: sequence)
            #expect(try self.fixture.send(command, to: pump) == .applied)
            #expect(pump.settingsDigest == SettingsDigest.sha256(of: pump.state.settings))
        }
        // And against a digest of the canonical bytes computed independently here.
        let independent = Array(
            SHA256.hash(
                data: Array("MedTunnel settings v1".utf8) + [0] + SettingsDigest.canonicalBytes(of: pump.state.settings)
            )
        )
        #expect(pump.settingsDigest == independent)
    }

    @Test("a PKI made before command keys: loading the signer names the fix; pki init adds only the key")
    func missingCommandKey() throws {
        let throwaway = try ThrowawayPKI(prefix: "old-pki")
        defer { throwaway.remove() }
        let directory = throwaway.gateway
        try FileManager.default.removeItem(at: directory.commandKey)
        try FileManager.default.removeItem(at: directory.commandPublicKey)
        let caBefore = try Data(contentsOf: directory.caCertificate)
        do {
            _ = try CommandSigner.load(from: directory)
            Issue.record("loaded a signer without a command key")
        } catch let error as PKIError {
            #expect(error.code == .missingFile)
            #expect(error.reason.contains("pki init"))
        }
        #expect(try PKIOperations.addMissingCommandKey(directory))
        #expect(try Data(contentsOf: directory.caCertificate) == caBefore)
        #expect(try !PKIOperations.addMissingCommandKey(directory))
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.commandKey.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let signer = try CommandSigner.load(from: directory)
        #expect(signer.publicKeyPEM == (try directory.commandPublicKeyPEM()))
    }
}

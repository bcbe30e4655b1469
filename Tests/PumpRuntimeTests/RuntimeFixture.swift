import CommandAuthority
import Crypto
import Foundation
import MedTunnelIdentity
import MedTunnelPKI
import MedTunnelTestSupport
import PumpRuntime
import TherapyModel
import TunnelProtocol

/// A throwaway PKI (CA, gateway, command key, two pumps) shared by the tests of one process,
/// and a fresh state directory per fixture.
struct RuntimeFixture {
    static let serial = "PUMP-0001"
    static let otherSerial = "PUMP-0002"
    static let now = Timestamp(millisecondsSinceEpoch: 1_790_000_000_000)

    struct SharedPKI: Sendable {
        let directory: PKIDirectory
        let signer: CommandSigner
        let commandPublicKeyPEM: String
        let deviceKeyPEM: String
        let certificatePEM: String
        let otherCertificatePEM: String

        init() throws {
            let throwaway = try ThrowawayPKI(
                pumps: [RuntimeFixture.serial, RuntimeFixture.otherSerial],
                prefix: "pumpruntime-pki"
            )
            let directory = throwaway.gateway
            self.directory = directory
            self.signer = try CommandSigner.load(from: directory)
            self.commandPublicKeyPEM = try directory.commandPublicKeyPEM()
            let pump = DeviceIdentity.pump(serial: RuntimeFixture.serial)
            self.deviceKeyPEM = try throwaway.keyPEM(pump)
            self.certificatePEM = try String(contentsOf: directory.certificate(for: pump), encoding: .utf8)
            self.otherCertificatePEM = try String(
                contentsOf: directory.certificate(for: .pump(serial: RuntimeFixture.otherSerial)),
                encoding: .utf8
            )
        }
    }

    static let pki: SharedPKI = try! SharedPKI()

    static let model = PumpDefaults.simulatorModel
    static let factory = PumpDefaults.factorySettings(for: model)

    let stateDirectory: URL
    var configuration: PumpRuntime.Configuration

    init() throws {
        self.stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("pumpruntime-\(UUID())")
        try FileManager.default.createDirectory(at: self.stateDirectory, withIntermediateDirectories: true)
        self.configuration = PumpRuntime.Configuration(
            serial: Self.serial,
            model: Self.model,
            commandPublicKeyPEM: Self.pki.commandPublicKeyPEM,
            deviceKeyPEM: Self.pki.deviceKeyPEM,
            stateFilePath: PumpRuntime.stateFilePath(directory: self.stateDirectory.path, serial: Self.serial)
        )
    }

    var statePath: String { self.configuration.stateFilePath }

    /// Starts (or restarts) the pump from its state file.
    func runtime() throws -> PumpRuntime {
        try PumpRuntime(self.configuration, factorySettings: Self.factory)
    }

    /// A command signed with the gateway's command key.
    func command(
        _ command: PumpCommand,
        sequence: UInt64,
        serial: String = serial,
        issuedAt: Timestamp = now,
        signer: CommandSigner = pki.signer
    ) throws -> SignedCommand {
        try signer.sign(
            CommandEnvelope(
                serial: serial,
                sequence: sequence,
                issuedAt: issuedAt,
                auditIndex: sequence,
                command: command
            )
        )
    }

    /// The acknowledgement's content, after checking it with the pump's certificate via
    /// swift-crypto and that it answers `command`.
    func verified(_ signed: SignedAcknowledgement, answering command: SignedCommand) throws -> CommandAcknowledgement {
        try AcknowledgementVerifier(pumpCertificatePEM: Self.pki.certificatePEM).verify(signed, answering: command)
    }

    /// Sends `command` and returns the verified result.
    func send(_ command: SignedCommand, to runtime: PumpRuntime, at now: Timestamp = now) throws -> CommandResult {
        try self.verified(runtime.handle(commandBody: command.encoded, now: now), answering: command).result
    }

    static let bolus = PumpCommand.change(.bolus(Milliunits(2_000)))
}

import CommandAuthority
import Foundation
import MedTunnelPKI
import MedTunnelTestSupport
import Testing
import TherapyModel
import TunnelProtocol

/// `medtunnel pump-sim --state-dir` as a real process, answering signed commands over the
/// real pump TLS profile.
@Suite("pump-sim takes signed commands and survives SIGKILL-like crashes", .offThePool)
struct PumpSimCommandTests {
    static let serial = "PUMP-0001"

    /// The gateway folder of a new PKI; the pump enrolled with its key born in `tmp/state`.
    func pki(in tmp: TemporaryDirectory) throws -> PKIDirectory {
        let path = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", path]).status == 0)
        try ProcessHarness.enrollPump(Self.serial, pki: path, stateDir: tmp.sub("state"))
        return PKIDirectory(path + "/gateway")
    }

    func command(_ command: PumpCommand, sequence: UInt64, pki: PKIDirectory) throws -> SignedCommand {
        let now = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000))
        return try CommandSigner.load(from: pki).sign(
            CommandEnvelope(
                serial: Self.serial,
                sequence: sequence,
                issuedAt: now,
                auditIndex: sequence,
                command: command
            )
        )
    }

    func runPump(port: Int, pki: PKIDirectory, state: String, crash: Bool) throws -> ProcessHarness.Result {
        try ProcessHarness.medtunnel(
            [
                "pump-sim", "--serial", Self.serial, "--connect", "127.0.0.1:\(port)", "--telemetry", "1",
                "--state-dir", state,
            ],
            environment: crash ? ["MEDTUNNEL_CRASH_AFTER_PERSIST": "1"] : [:]
        )
    }

    @Test(
        "killed after persisting and before acknowledging: the restart reports the command applied, and a resend is a replay"
    )
    func crashAfterPersist() async throws {
        let tmp = try TemporaryDirectory()
        let pki = try self.pki(in: tmp)
        let bolus = try self.command(.change(.bolus(Milliunits(2_000))), sequence: 1, pki: pki)
        let maxBolus = try self.command(.change(.setMaxBolus(Milliunits(8_000))), sequence: 2, pki: pki)
        // A careless gateway that resends the bolus after every hello, then a new command.
        let gateway = try CommandTestGateway(pki: pki) { hello in
            hello.lastAppliedSequence == 0 ? [bolus] : [bolus, maxBolus]
        }
        let listener = try await gateway.start()
        let port = listener.localAddress!.port!
        let state = tmp.sub("state")

        let crashed = try self.runPump(port: port, pki: pki, state: state, crash: true)
        #expect(crashed.status == 137, "\(crashed.stderr)")
        #expect(crashed.stdout.contains("last applied sequence 0, high-water 0"))
        #expect(gateway.recorded.acknowledgements.isEmpty)

        let restarted = try self.runPump(port: port, pki: pki, state: state, crash: false)
        #expect(restarted.status == 0, "\(restarted.stderr)")
        #expect(restarted.stdout.contains("last applied sequence 1, high-water 1"))
        try await Task.sleep(for: .milliseconds(100))
        let record = gateway.recorded
        #expect(record.hellos.map(\.lastAppliedSequence) == [0, 1])
        let verifier = try AcknowledgementVerifier(
            pumpCertificatePEM: try String(
                contentsOf: pki.certificate(for: .pump(serial: Self.serial)),
                encoding: .utf8
            )
        )
        #expect(record.acknowledgements.count == 2)
        guard record.acknowledgements.count == 2 else { return }
        let replay = try verifier.verify(record.acknowledgements[0], answering: bolus)
        #expect(replay.result == .refused(.replayedSequence))
        let applied = try verifier.verify(record.acknowledgements[1], answering: maxBolus)
        #expect(applied.result == .applied)
        #expect(applied.lastAppliedSequence == 2)
        #expect(applied.settingsDigest == (try SettingsDigestFixture.factoryAfterMaxBolus(8_000)))
        try await listener.close()
    }

    @Test("a pump-sim without --state-dir is refused: the pump's key and certificate live there")
    func noStateDirectory() throws {
        let result = try ProcessHarness.medtunnel([
            "pump-sim", "--serial", Self.serial, "--connect", "127.0.0.1:1", "--telemetry", "1",
        ])
        #expect(result.status != 0)
        #expect(result.stderr.contains("give --state-dir DIR"), "\(result.stderr)")
    }

    @Test("an existing PKI without a command key: pki init adds only the key")
    func pkiInitAddsCommandKey() throws {
        let tmp = try TemporaryDirectory()
        let pki = try self.pki(in: tmp)
        try FileManager.default.removeItem(at: pki.commandKey)
        let ca = try Data(contentsOf: pki.caCertificate)
        let result = try ProcessHarness.medtunnel(["pki", "init", "--dir", tmp.sub("pki")])
        #expect(result.status == 0)
        #expect(result.stdout.contains("added the command key"))
        #expect(try Data(contentsOf: pki.caCertificate) == ca)
        #expect(FileManager.default.fileExists(atPath: pki.commandKey.path))
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", tmp.sub("pki")]).status != 0)
    }
}

/// The digest the simulator's factory settings have after a maximum-bolus change.
enum SettingsDigestFixture {
    static func factoryAfterMaxBolus(_ milliunits: Int64) throws -> [UInt8] {
        let factory = TherapySettings(
            basalSchedule: DailySchedule(constant: .zero),
            maxBasalRate: MilliunitsPerHour(2_000),
            maxBolus: Milliunits(milliunits),
            carbRatioSchedule: DailySchedule(constant: CarbRatio(gramsPerUnit: 15)),
            sensitivitySchedule: DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: 50)),
            correctionRangeSchedule: DailySchedule(
                constant: try CorrectionRange(lower: GlucoseMgdL(100), upper: GlucoseMgdL(120))
            ),
            suspendThreshold: GlucoseMgdL(70)
        )
        return SettingsDigest.sha256(of: factory)
    }
}

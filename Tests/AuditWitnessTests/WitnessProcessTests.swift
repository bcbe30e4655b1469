import AuditLog
import AuditWitness
import Foundation
import MedTunnelTestSupport
import Testing

/// The commands as an operator runs them: `witness keygen`, `witness --once`, `audit verify
/// --witness-key`, and `audit append` (no back-dating, the OS user recorded).
@Suite("medtunnel witness and audit verify --witness-key (processes)", .offThePool)
struct WitnessProcessTests {
    /// A log of 5 entries with a checkpoint, a witness key (its vkey printed by keygen) and the
    /// log key in a file.
    static func setUp() async throws -> (state: String, directory: String, vkey: String, logKeyFile: String) {
        let directory = WitnessTestSupport.temporaryDirectory()
        let state = "\(directory)/log"
        try await WitnessTestSupport.grow(state, to: 5)
        let keygen = try WitnessTestSupport.medtunnel(["witness", "keygen", "--key", "\(directory)/witness.key"])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        let logKeyFile = "\(directory)/log.vkey"
        try (try WitnessTestSupport.logKey(state).verifierKey + "\n").write(
            toFile: logKeyFile,
            atomically: true,
            encoding: .utf8
        )
        return (state, directory, keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines), logKeyFile)
    }

    static func witnessOnce(
        _ setup: (state: String, directory: String, vkey: String, logKeyFile: String)
    ) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let run = try WitnessTestSupport.medtunnel([
            "witness", "--log", setup.state, "--log-key", setup.logKeyFile, "--key", "\(setup.directory)/witness.key",
            "--state", "\(setup.directory)/witness.json", "--once",
        ])
        return (run.status, run.stdout, run.stderr)
    }

    static func verify(
        _ state: String,
        vkey: String,
        maxAge: String? = nil
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let run = try WitnessTestSupport.medtunnel(
            ["audit", "verify", "--state-dir", state, "--witness-key", vkey]
                + (maxAge.map { ["--witness-max-age", $0] } ?? [])
        )
        return (run.status, run.stdout, run.stderr)
    }

    @Test("keygen writes a 0600 key and prints a vkey that refuses to be overwritten")
    func keygen() async throws {
        let setup = try await Self.setUp()
        let mode =
            try FileManager.default.attributesOfItem(atPath: "\(setup.directory)/witness.key")[.posixPermissions]
            as? Int
        #expect(mode == 0o600)
        let verifier = try CosignatureVerifier(verifierKey: setup.vkey)
        #expect(verifier.name == "medtunnel.local/witness")
        let key = try String(contentsOfFile: "\(setup.directory)/witness.key", encoding: .utf8)
        #expect(!setup.vkey.contains(key.split(separator: "+", maxSplits: 4).last.map(String.init) ?? "-"))
        let again = try WitnessTestSupport.medtunnel(["witness", "keygen", "--key", "\(setup.directory)/witness.key"])
        #expect(again.status == 1 && again.stderr.contains("exists already") && again.stderr.contains("[keyFile]"))
    }

    @Test("audit verify --witness-key passes with a fresh cosignature, fails without one (exit 4)")
    func verifyWithWitness() async throws {
        let setup = try await Self.setUp()
        let missing = try Self.verify(setup.state, vkey: setup.vkey)
        #expect(missing.status == 4, "\(missing.stderr)")
        #expect(missing.stderr.contains("no cosignature by witness medtunnel.local/witness"), "\(missing.stderr)")
        #expect(missing.stderr.contains("[noCosignature]"))

        let witnessed = try Self.witnessOnce(setup)
        #expect(witnessed.status == 0, "\(witnessed.stderr)")
        #expect(witnessed.stdout.contains("witness: cosigned medtunnel.local/audit size 5"))

        let passed = try Self.verify(setup.state, vkey: setup.vkey)
        #expect(passed.status == 0, "\(passed.stderr)")
        #expect(passed.stdout.contains("witness: checkpoint 5 cosigned by medtunnel.local/witness"))

        // The log grows and signs a new checkpoint: the cosignature is on an older one.
        try await WitnessTestSupport.grow(setup.state, from: 5, to: 7)
        let behind = try Self.verify(setup.state, vkey: setup.vkey)
        #expect(behind.status == 4 && behind.stderr.contains("checkpoint 7: no cosignature"), "\(behind.stderr)")
        #expect(try Self.witnessOnce(setup).status == 0)
        #expect(try Self.verify(setup.state, vkey: setup.vkey).status == 0)

        // Another witness's key is not this one's.
        let other = try Cosigner(name: "medtunnel.local/witness", privateKey: .init()).verifier.verifierKey
        #expect(try Self.verify(setup.state, vkey: other).status == 4)
    }

    @Test("audit verify --witness-key fails on a stale cosignature (exit 4)")
    func staleCosignature() async throws {
        let setup = try await Self.setUp()
        // The witness cosigned two hours ago (time is passed in).
        let witness = try WitnessTestSupport.witness(
            setup.state,
            statePath: "\(setup.directory)/witness.json",
            cosigner: try Cosigner.load(path: "\(setup.directory)/witness.key")
        )
        let then = UInt64(Date().timeIntervalSince1970) - 7200
        guard case .cosigned = await witness.poll(now: then) else {
            Issue.record("the witness should cosign")
            return
        }
        let stale = try Self.verify(setup.state, vkey: setup.vkey)
        #expect(stale.status == 4, "\(stale.stderr)")
        #expect(
            stale.stderr.contains("[staleCosignature]") && stale.stderr.contains("at most 3600 s"),
            "\(stale.stderr)"
        )
        #expect(try Self.verify(setup.state, vkey: setup.vkey, maxAge: "3h").status == 0)
    }

    @Test("the witness process exits 2 with an ALERT on a fork, and keeps refusing after a restart")
    func forkAlert() async throws {
        let setup = try await Self.setUp()
        #expect(try Self.witnessOnce(setup).status == 0)
        let forked = try WitnessTestSupport.sameKey(as: setup.state)
        try await WitnessTestSupport.grow(forked, to: 5, tag: "forged")
        var forkSetup = setup
        forkSetup.state = forked
        let caught = try Self.witnessOnce(forkSetup)
        #expect(caught.status == 2)
        #expect(
            caught.stderr.hasPrefix("ALERT witness: ") && caught.stderr.contains("the log forked"),
            "\(caught.stderr)"
        )
        let restarted = try Self.witnessOnce(setup)
        #expect(restarted.status == 2 && restarted.stderr.contains("nothing is cosigned until an operator resets"))
    }

    @Test("audit append refuses --time and records the OS user beside the claimed actor")
    func appendAdministrative() async throws {
        let directory = WitnessTestSupport.temporaryDirectory()
        let state = "\(directory)/log"
        let backdated = try WitnessTestSupport.medtunnel([
            "audit", "append", "--state-dir", state, "--kind", "config.changed", "--actor", "ops-1", "--time", "1000",
        ])
        #expect(backdated.status != 0)
        #expect(backdated.stderr.contains("--time is not accepted"), "\(backdated.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(state)/audit.sqlite"))

        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let appended = try WitnessTestSupport.medtunnel([
            "audit", "append", "--state-dir", state, "--kind", "config.changed", "--actor", "someone-else",
            "--payload", #"{"note":"rotated"}"#,
        ])
        #expect(appended.status == 0, "\(appended.stderr)")
        let log = try await AuditLog.openExisting(stateDirectory: state)
        let entry = try await log.entry(at: 0)
        #expect(entry.event.actor.id == "someone-else")
        #expect(entry.event.timeMilliseconds >= before)
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(entry.event.payload)) as? [String: Any])
        #expect(payload["administrative"] as? Bool == true)
        #expect(payload["note"] as? String == "rotated")
        let user = String(cString: getpwuid(geteuid())!.pointee.pw_name!)
        #expect(payload["osUser"] as? String == user)

        let spoofed = try WitnessTestSupport.medtunnel([
            "audit", "append", "--state-dir", state, "--kind", "config.changed", "--actor", "x",
            "--payload", #"{"osUser":"nobody"}"#,
        ])
        #expect(spoofed.status != 0 && spoofed.stderr.contains("\"osUser\" is set by the command"))
    }
}

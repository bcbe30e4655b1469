import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `medtunnel backup`, `backup verify` and `restore` as processes: a backup under load beside a
/// running gateway, restored and continued; a tampered backup refused by name; the witness
/// rollback rule and --force.
@Suite("backup and restore as processes", .offThePool)
struct BackupProcessTests {
    static let origin = "medtunnel.local/audit"

    func manifest(_ backup: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: backup + "/manifest.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func treeSize(_ backup: String) throws -> Int {
        let audit = try #require(try self.manifest(backup)["audit"] as? [String: Any])
        return try #require(audit["treeSize"] as? Int)
    }

    /// "verified N entries, …" of `audit verify`.
    func verifiedSize(_ state: String) throws -> Int {
        let verified = try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", state])
        #expect(verified.status == 0, "\(verified.stderr)")
        let words = verified.stdout.split(separator: " ")
        return Int(words.dropFirst().first ?? "") ?? -1
    }

    @Test(
        "backup while a gateway runs and entries and accounts are written; backup verify passes; restored into a new folder, a gateway starts on it, audit verify passes and the next entry gets the next index"
    )
    func backupUnderLoadThenRestore() async throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        let gateway = try StateLockProcessTests.gatewayWithAnAccount(tmp, state: state, name: "gateway")
        defer { gateway.stop() }

        // One entry written before the backup starts, so it must hold more than the gateway's own.
        let first = try ProcessHarness.medtunnel([
            "audit", "append", "--state-dir", state, "--kind", "config.changed", "--actor", "load", "--payload", "{}",
        ])
        #expect(first.status == 0, "\(first.stderr)")
        // The load: entries appended by other processes and accounts added (each a store row and
        // an audit entry), one after another, while the backup runs. Off the cooperative pool, as
        // the test itself: each waits for its process.
        let appends = Task(executorPreference: ElasticThreads.shared) {
            var failures: [String] = []
            for index in 0..<30 {
                let result = try ProcessHarness.medtunnel([
                    "audit", "append", "--state-dir", state, "--kind", "config.changed", "--actor", "load",
                    "--payload", "{\"step\":\(index)}",
                ])
                if result.status != 0 { failures.append(result.stderr) }
            }
            return failures
        }
        let users = Task(executorPreference: ElasticThreads.shared) {
            var failures: [String] = []
            for index in 0..<8 {
                let result = try ProcessHarness.medtunnel([
                    "user", "add", "--state-dir", state, "--id", "user\(index)", "--role", "operator",
                ])
                if result.status != 0 { failures.append(result.stderr) }
            }
            return failures
        }
        try await Task.sleep(for: .milliseconds(300))
        let backup = tmp.sub("backup")
        let made = try ProcessHarness.medtunnel(["backup", "--state-dir", state, "--to", backup], timeout: 120)
        #expect(made.status == 0, "\(made.stderr)")
        let failures = try await users.value + appends.value
        #expect(failures.isEmpty, "\(failures)")
        #expect(made.stderr.contains("backup: audit.sqlite"), "\(made.stderr)")
        #expect(!FileManager.default.fileExists(atPath: backup + ".partial"))
        let names = try FileManager.default.contentsOfDirectory(atPath: backup)
        for expected in ["audit.sqlite", "accounts.sqlite", "checkpoint-key.pem", "manifest.json"] {
            #expect(names.contains(expected), "\(names)")
        }
        #expect(!names.contains { $0.hasSuffix("-wal") || $0.hasSuffix(".lock") }, "\(names)")
        let size = try self.treeSize(backup)
        #expect(size > 1)

        let verified = try ProcessHarness.medtunnel(["backup", "verify", backup], timeout: 120)
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("audit log \(size) entries"))

        let restoredState = tmp.sub("restored")
        let restored = try ProcessHarness.medtunnel(["restore", backup, "--state-dir", restoredState], timeout: 120)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("restore recorded at index \(size)"), "\(restored.stdout)")
        #expect(!FileManager.default.fileExists(atPath: restoredState + ".restoring"))

        let second = try StateLockProcessTests.startGateway(tmp, state: restoredState, name: "restored-gateway")
        defer { second.stop() }
        let before = try self.verifiedSize(restoredState)
        #expect(before >= size + 1)
        let appended = try ProcessHarness.medtunnel([
            "audit", "append", "--state-dir", restoredState, "--kind", "config.changed", "--actor", "olga",
        ])
        #expect(appended.status == 0, "\(appended.stderr)")
        #expect(appended.stdout.contains("appended index \(before)"), "\(appended.stdout)")
        #expect(try self.verifiedSize(restoredState) == before + 1)
        let shown = try ProcessHarness.medtunnel([
            "audit", "show", "--state-dir", restoredState, "--kind", "config.changed", "--format", "jsonl",
        ])
        #expect(shown.stdout.contains("state.restored"), "\(shown.stdout)")
        let accounts = try ProcessHarness.medtunnel(["user", "list", "--state-dir", restoredState])
        #expect(accounts.stdout.contains("olga"))
    }

    @Test(
        "a changed byte in a backed-up database is refused by backup verify naming the file (exit 1), and restore refuses it; an existing --to is refused; a missing folder is exit 2"
    )
    func tamperedBackupRefused() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        for id in ["olga", "ivan"] {
            let added = try ProcessHarness.medtunnel([
                "user", "add", "--state-dir", state, "--id", id, "--role", "admin",
            ])
            try #require(added.status == 0, "\(added.stderr)")
        }
        let backup = tmp.sub("backup")
        let made = try ProcessHarness.medtunnel(["backup", "--state-dir", state, "--to", backup])
        try #require(made.status == 0, "\(made.stderr)")

        let again = try ProcessHarness.medtunnel(["backup", "--state-dir", state, "--to", backup])
        #expect(again.status == 1)
        #expect(again.stderr.contains("--to \(backup) exists: a backup never overwrites"), "\(again.stderr)")

        let usage = try ProcessHarness.medtunnel(["backup", "verify", tmp.sub("nowhere")])
        #expect(usage.status == 2)

        // Flip one byte near the end of accounts.sqlite.
        let path = backup + "/accounts.sqlite"
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 100] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let verified = try ProcessHarness.medtunnel(["backup", "verify", backup])
        #expect(verified.status == 1)
        #expect(verified.stderr.contains("accounts.sqlite: its checksum does not match"), "\(verified.stderr)")

        let restored = try ProcessHarness.medtunnel(["restore", backup, "--state-dir", tmp.sub("restored")])
        #expect(restored.status == 1)
        #expect(restored.stderr.contains("accounts.sqlite"), "\(restored.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("restored")))
    }

    @Test(
        "restore is refused when a witness cosigned more than the backup holds (both witness state formats), and --force restores it, recorded in the log"
    )
    func rollbackRefusedUnlessForced() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        let added = try ProcessHarness.medtunnel([
            "user", "add", "--state-dir", state, "--id", "olga", "--role", "admin",
        ])
        try #require(added.status == 0, "\(added.stderr)")
        let backup = tmp.sub("backup")
        try #require(try ProcessHarness.medtunnel(["backup", "--state-dir", state, "--to", backup]).status == 0)
        let size = try self.treeSize(backup)

        // The log goes on after the backup, and a witness accepts a checkpoint of it.
        for _ in 0..<3 {
            let appended = try ProcessHarness.medtunnel([
                "audit", "append", "--state-dir", state, "--kind", "config.changed", "--actor", "olga",
            ])
            #expect(appended.status == 0, "\(appended.stderr)")
        }
        #expect(try ProcessHarness.medtunnel(["audit", "checkpoint", "--state-dir", state]).status == 0)
        let witnessFile = tmp.sub("verify-witness.json")
        let witnessed = try ProcessHarness.medtunnel([
            "audit", "verify", "--state-dir", state, "--witness", witnessFile,
        ])
        #expect(witnessed.status == 0, "\(witnessed.stderr)")
        #expect(witnessed.stdout.contains("witness: accepted checkpoint \(size + 3)"), "\(witnessed.stdout)")

        let refused = try ProcessHarness.medtunnel([
            "restore", backup, "--state-dir", tmp.sub("restored"), "--witness-state", witnessFile,
        ])
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains(
                "the backup ends at \(size) entries but the witness cosigned \(size + 3): restoring it would roll the log back"
            ),
            "\(refused.stderr)"
        )
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("restored")))

        // The `medtunnel witness` state file format (WitnessStateFile), one record per origin.
        let stateFile = tmp.sub("witness-state.json")
        let record: [String: Any] = [
            "origin": Self.origin, "size": size + 7, "rootHash": Data(repeating: 7, count: 32).base64EncodedString(),
            "cosignedAt": 1_700_000_000,
        ]
        let object: [String: Any] = ["version": 1, "logs": [Self.origin: record]]
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: stateFile))
        let refusedAgain = try ProcessHarness.medtunnel([
            "restore", backup, "--state-dir", tmp.sub("restored"), "--witness-state", stateFile,
        ])
        #expect(refusedAgain.status == 1)
        #expect(refusedAgain.stderr.contains("the witness cosigned \(size + 7)"), "\(refusedAgain.stderr)")

        let forced = try ProcessHarness.medtunnel([
            "restore", backup, "--state-dir", tmp.sub("restored"), "--witness-state", stateFile, "--force",
        ])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stderr.contains("--force"), "\(forced.stderr)")
        let shown = try ProcessHarness.medtunnel([
            "audit", "show", "--state-dir", tmp.sub("restored"), "--kind", "config.changed", "--format", "jsonl",
        ])
        #expect(shown.stdout.contains("\"forced\":true"), "\(shown.stdout)")
        #expect(shown.stdout.contains("\"witnessedSize\":\(size + 7)"), "\(shown.stdout)")
        #expect(try self.verifiedSize(tmp.sub("restored")) == size + 1)

        // Into a folder that is not empty: refused.
        let notEmpty = try ProcessHarness.medtunnel(["restore", backup, "--state-dir", tmp.sub("restored")])
        #expect(notEmpty.status == 1)
        #expect(notEmpty.stderr.contains("is not empty"), "\(notEmpty.stderr)")
    }
}

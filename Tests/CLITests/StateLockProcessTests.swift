import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The state directory's lock (STATE/gateway.lock) with real processes: one gateway per
/// directory, the holder named; reads and incident-staff writes beside it; released by a kill -9.
@Suite("state directory lock as processes", .offThePool)
struct StateLockProcessTests {
    static func startGateway(_ tmp: TemporaryDirectory, state: String, name: String) throws -> BackgroundProcess {
        let gateway = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "gateway", "--pki", tmp.sub("pki") + "/gateway", "--state-dir", state, "--pump-listen", "127.0.0.1:0",
                "--api-listen", "127.0.0.1:0",
            ],
            in: tmp.url,
            name: name
        )
        _ = try gateway.waitForLine(containing: "operator API on ", timeout: 60)
        return gateway
    }

    /// A PKI, an operator account (olga) in `state`, and a gateway running on it.
    static func gatewayWithAnAccount(_ tmp: TemporaryDirectory, state: String, name: String) throws -> BackgroundProcess
    {
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", tmp.sub("pki")]).status == 0)
        let added = try ProcessHarness.medtunnel([
            "user", "add", "--state-dir", state, "--id", "olga", "--role", "operator",
        ])
        try #require(added.status == 0, "\(added.stderr)")
        return try Self.startGateway(tmp, state: state, name: name)
    }

    @Test(
        "a second gateway on one --state-dir is refused naming the first's PID; audit show, user add, token revoke and backup work beside it; restore into it is refused; after kill -9 a third gateway starts"
    )
    func oneGatewayPerStateDirectory() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        let first = try StateLockProcessTests.gatewayWithAnAccount(tmp, state: state, name: "gateway-1")
        defer { first.stop() }
        let pid = first.process.processIdentifier

        let second = try ProcessHarness.medtunnel(
            ["gateway", "--pki", tmp.sub("pki") + "/gateway", "--state-dir", state, "--pump-listen", "127.0.0.1:0"],
            timeout: 60
        )
        #expect(second.status != 0)
        #expect(
            second.stderr.contains("--state-dir \(state) is in use by process \(pid) (medtunnel gateway, since "),
            "\(second.stderr)"
        )
        #expect(second.stderr.contains("stop it first"))
        #expect(!second.stdout.contains("listening"), "the second gateway opened nothing")

        // Read-only and incident-staff commands work beside the running gateway.
        let shown = try ProcessHarness.medtunnel(["audit", "show", "--state-dir", state])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("account.created"))
        let disabled = try ProcessHarness.medtunnel([
            "user", "add", "--state-dir", state, "--id", "ines", "--role", "incident",
        ])
        #expect(disabled.status == 0, "\(disabled.stderr)")
        let revoked = try ProcessHarness.medtunnel(["token", "revoke", "--state-dir", state, "--user", "olga"])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let verified = try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", state])
        #expect(verified.status == 0, "\(verified.stderr)")
        let backup = try ProcessHarness.medtunnel(["backup", "--state-dir", state, "--to", tmp.sub("backup")])
        #expect(backup.status == 0, "\(backup.stderr)")

        // A restore over the live directory is refused by the lock, before anything is copied.
        let restore = try ProcessHarness.medtunnel(["restore", tmp.sub("backup"), "--state-dir", state])
        #expect(restore.status == 1)
        #expect(restore.stderr.contains("is in use by process \(pid) (medtunnel gateway"), "\(restore.stderr)")

        // kill -9: no graceful shutdown, yet the kernel drops the flock with the process.
        kill(pid, SIGKILL)
        first.process.waitUntilExit()
        let third = try Self.startGateway(tmp, state: state, name: "gateway-3")
        defer { third.stop() }
        #expect(third.process.isRunning)
        let list = try ProcessHarness.medtunnel(["user", "list", "--state-dir", state])
        #expect(list.stdout.contains("ines"))
    }

    @Test("a command running alone records itself in gateway.lock while it holds it; the lock is free afterwards")
    func commandAloneReleasesAtExit() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        let added = try ProcessHarness.medtunnel([
            "user", "add", "--state-dir", state, "--id", "olga", "--role", "operator",
        ])
        #expect(added.status == 0, "\(added.stderr)")
        let recorded = try String(contentsOfFile: state + "/gateway.lock", encoding: .utf8)
        #expect(recorded.contains("\"command\":\"medtunnel user add\""), "\(recorded)")
        #expect(recorded.contains("\"role\":\"command\""))
        // Free again: a second command runs alone at once.
        let again = try ProcessHarness.medtunnel([
            "user", "add", "--state-dir", state, "--id", "ivan", "--role", "admin",
        ])
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test(
        "`pki revoke` holds the directory while it appends (recorded in gateway.lock when alone); a demo on a gateway's state directory is refused naming the gateway"
    )
    func revokeAndDemoTakeTheLock() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        let gateway = try StateLockProcessTests.gatewayWithAnAccount(tmp, state: state, name: "gateway")
        let pid = gateway.process.processIdentifier
        try ProcessHarness.enrollPump("PUMP-0001", pki: tmp.sub("pki"), stateDir: tmp.sub("pump"))
        // Beside the gateway: writers.lock shared, the revocation goes through.
        let beside = try ProcessHarness.medtunnel([
            "pki", "revoke", "--dir", tmp.sub("pki"), "--serial", "PUMP-0001", "--reason", "lost",
            "--by", "olga", "--state-dir", state,
        ])
        #expect(beside.status == 0, "\(beside.stderr)")

        // A demo whose state directory is the running gateway's: refused before it touches anything.
        let demo = try ProcessHarness.medtunnel(["demo", "--state-dir", tmp.url.path], timeout: 60)
        #expect(demo.status == 1)
        #expect(demo.stdout.contains("is in use by process \(pid) (medtunnel gateway"), "\(demo.stdout)")
        #expect(FileManager.default.fileExists(atPath: tmp.sub("pki") + "/ca"), "the demo cleared the PKI")
        gateway.stop()

        // Alone: it holds gateway.lock while it runs, and says so there.
        let alone = try ProcessHarness.medtunnel([
            "pki", "unrevoke", "--dir", tmp.sub("pki"), "--serial", "PUMP-0001", "--reason", "found",
            "--by", "olga", "--state-dir", state,
        ])
        #expect(alone.status == 0, "\(alone.stderr)")
        let recorded = try String(contentsOfFile: state + "/gateway.lock", encoding: .utf8)
        #expect(recorded.contains("\"command\":\"medtunnel pki unrevoke\""), "\(recorded)")
    }
}

import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `medtunnel db attach`: a state directory whose audit log lives in PostgreSQL, followed by the
/// gateway and every command that opens the log by state directory (docs/postgres.md).
@Suite("a state directory's audit log attached to PostgreSQL", .offThePool)
struct DatabaseAttachProcessTests {
    @Test(
        "attached before the first user: user add, the gateway's pairing, prescription and an applied bolus all go to PostgreSQL; audit verify by state directory and by database agree, and there is no audit.sqlite"
    )
    func gatewayOnAttachedDirectory() async throws {
        let database = try await PostgresTestServer.newDatabase()
        let setup = try ChangeProcessTests.Setup(database: database)
        let state = setup.state
        let (gateway, api) = try setup.startGateway(name: "gateway")
        defer { gateway.stop() }
        // Its log is open where it is: attaching under a running gateway is refused.
        let busy = try ProcessHarness.medtunnel(["db", "attach", "--state-dir", state, "--database", database])
        #expect(busy.status == 1 && busy.stderr.contains("in use by a gateway"), "\(busy.stderr)")
        let (relay, pump) = try await setup.connectPairedPump(gateway, api: api)
        defer {
            pump.stop()
            relay.stop()
        }
        let (created, bolus) = try await api.submit(
            "{\"kind\": \"bolus\", \"milliunits\": 2000}",
            token: setup.tokens["alice"]!
        )
        #expect(created == 201, "\(bolus)")
        let applied = try await api.settled(try #require(bolus["id"] as? String), token: setup.tokens["alice"]!)
        #expect(applied["state"] as? String == "applied", "\(applied)\n\(gateway.stderr)")
        gateway.process.terminate()
        gateway.process.waitUntilExit()

        let byState = try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", state])
        #expect(byState.status == 0, "\(byState.stdout)\(byState.stderr)")
        let checkpoint = try ChangeProcessTests.Setup.medtunnel([
            "audit", "checkpoint", "--state-dir", state, "--show-verifier-key",
        ])
        let key = try #require(
            checkpoint.split(separator: "\n").first { $0.hasPrefix("verifier key: ") }?.dropFirst(
                "verifier key: ".count
            )
        )
        let byDatabase = try ProcessHarness.medtunnel([
            "audit", "verify", "--database", database, "--verifier-key", String(key),
        ])
        #expect(byDatabase.status == 0, "\(byDatabase.stdout)\(byDatabase.stderr)")
        let verified = byState.stdout.split(separator: "\n").first { $0.hasPrefix("verified ") }
        #expect(
            verified != nil && verified == byDatabase.stdout.split(separator: "\n").first { $0.hasPrefix("verified ") }
        )
        let entries = try await PostgresTestServer.sql(database, "SELECT count(*) FROM entry")
        #expect(
            verified?.hasPrefix("verified \(entries.trimmingCharacters(in: .whitespacesAndNewlines)) entries") == true
        )
        let show = try ProcessHarness.medtunnel(["audit", "show", "--state-dir", state, "--format", "jsonl"])
        for kind in ["account.created", "pump.therapy.set", "change.requested", "command.acknowledged"] {
            #expect(show.stdout.contains("\"\(kind)\""), "\(kind)")
        }
        #expect(!FileManager.default.fileExists(atPath: state + "/audit.sqlite"))
    }

    @Test(
        "attach refuses a directory whose audit.sqlite has entries and a database holding another directory's log; re-attaching the same pair is fine; nothing is bound by a refusal"
    )
    func refusals() throws {
        let tmp = try TemporaryDirectory()
        let database = try PostgresTestServer.newDatabase()

        // A directory already logging to SQLite: its entries would be left behind.
        let local = tmp.sub("local")
        _ = try ChangeProcessTests.Setup.medtunnel([
            "user", "add", "--state-dir", local, "--id", "a", "--role", "patient", "--attr", "patient=p",
        ])
        let forked = try ProcessHarness.medtunnel(["db", "attach", "--state-dir", local, "--database", database])
        #expect(forked.status == 1, "\(forked.stderr)")
        #expect(
            forked.stderr.contains("already holds 1 audit entries in audit.sqlite; attach a new state directory"),
            "\(forked.stderr)"
        )
        #expect(!FileManager.default.fileExists(atPath: local + "/audit-database.url"))

        // A fresh directory: attached, then a user added (in PostgreSQL); attaching again is fine.
        let first = tmp.sub("first")
        _ = try ChangeProcessTests.Setup.medtunnel(["db", "attach", "--state-dir", first, "--database", database])
        _ = try ChangeProcessTests.Setup.medtunnel([
            "user", "add", "--state-dir", first, "--id", "a", "--role", "patient", "--attr", "patient=p",
        ])
        _ = try ChangeProcessTests.Setup.medtunnel(["audit", "checkpoint", "--state-dir", first])
        let again = try ProcessHarness.medtunnel(["db", "attach", "--state-dir", first, "--database", database])
        #expect(again.status == 0, "\(again.stderr)")

        // Another directory (another key) on the same database: two signers of one log.
        let second = tmp.sub("second")
        let foreign = try ProcessHarness.medtunnel(["db", "attach", "--state-dir", second, "--database", database])
        #expect(foreign.status == 1, "\(foreign.stderr)")
        #expect(foreign.stderr.contains("not signed by"), "\(foreign.stderr)")
        #expect(!FileManager.default.fileExists(atPath: second + "/audit-database.url"))
    }

    @Test(
        "a password in the URL is never printed; the binding is owner-only; an unreachable database binds nothing and is named without the password"
    )
    func password() throws {
        let tmp = try TemporaryDirectory()
        // The test server trusts loopback, so a password is accepted and ignored.
        let plain = try PostgresTestServer.newDatabase()
        let withPassword = plain.replacingOccurrences(
            of: "postgres://medtunnel@",
            with: "postgres://medtunnel:s3cret-pw@"
        )
        let state = tmp.sub("state")
        let attach = try ProcessHarness.medtunnel(["db", "attach", "--state-dir", state, "--database", withPassword])
        #expect(attach.status == 0, "\(attach.stderr)")
        #expect(!(attach.stdout + attach.stderr).contains("s3cret-pw"))
        #expect(attach.stdout.contains("attached to postgres://medtunnel@127.0.0.1:"), "\(attach.stdout)")
        var info = stat()
        #expect(stat(state + "/audit-database.url", &info) == 0 && info.st_mode & 0o777 == 0o600)
        let add = try ProcessHarness.medtunnel([
            "user", "add", "--state-dir", state, "--id", "a", "--role", "patient", "--attr", "patient=p",
        ])
        #expect(add.status == 0 && !(add.stdout + add.stderr).contains("s3cret-pw"), "\(add.stderr)")

        let port = PostgresTestServer.closedPort()
        let down = tmp.sub("down")
        let refused = try ProcessHarness.medtunnel([
            "db", "attach", "--state-dir", down, "--database", "postgres://medtunnel:s3cret-pw@127.0.0.1:\(port)/audit",
        ])
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(
            refused.stderr.contains("127.0.0.1:\(port)") && !refused.stderr.contains("s3cret-pw"),
            "\(refused.stderr)"
        )
        #expect(!FileManager.default.fileExists(atPath: down + "/audit-database.url"))

        // The attached directory's database goes down: the gateway refuses to start and a reader
        // fails, both naming it without the password; neither falls back to an audit.sqlite.
        try Data("postgres://medtunnel:s3cret-pw@127.0.0.1:\(port)/audit\n".utf8).write(
            to: URL(fileURLWithPath: state + "/audit-database.url")
        )
        #expect(chmod(state + "/audit-database.url", 0o600) == 0)
        let pki = tmp.sub("pki")
        _ = try ChangeProcessTests.Setup.medtunnel(["pki", "init", "--dir", pki])
        let gateway = try ProcessHarness.medtunnel(
            [
                "gateway", "--pki", pki + "/gateway", "--state-dir", state, "--pump-listen", "127.0.0.1:0",
                "--relay-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
            ],
            timeout: 30
        )
        #expect(gateway.status != 0, "\(gateway.stderr)")
        #expect(
            gateway.stderr.contains("127.0.0.1:\(port)") && !gateway.stderr.contains("s3cret-pw"),
            "\(gateway.stderr)"
        )
        let verify = try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", state])
        #expect(verify.status == 3, "\(verify.stderr)")
        #expect(verify.stderr.contains("127.0.0.1:\(port)") && !verify.stderr.contains("s3cret-pw"), "\(verify.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state + "/audit.sqlite"))
    }

    @Test("backup refuses a bound directory and says to back the log up with PostgreSQL's own tools")
    func backupRefused() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        _ = try ChangeProcessTests.Setup.medtunnel([
            "db", "attach", "--state-dir", state, "--database", try PostgresTestServer.newDatabase(),
        ])
        _ = try ChangeProcessTests.Setup.medtunnel([
            "user", "add", "--state-dir", state, "--id", "a", "--role", "patient", "--attr", "patient=p",
        ])
        let backup = try ProcessHarness.medtunnel(["backup", "create", "--state-dir", state, "--to", tmp.sub("backup")])
        #expect(backup.status != 0)
        #expect(
            backup.stderr.contains("keeps its audit log in PostgreSQL") && backup.stderr.contains("pg_dump"),
            "\(backup.stderr)"
        )
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("backup")))
    }
}

import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `medtunnel lockout` and `medtunnel rules` as processes against a real `medtunnel gateway`
/// with `pump-sim` pumps (their durable command state), over the operator API.
@Suite("medtunnel lockout and rules as processes", .offThePool)
struct LockoutCommandTests {
    struct Bed {
        let tmp: TemporaryDirectory
        let pki: String
        let state: String
        var gateway: BackgroundProcess
        var api: String
        var pumpAddress: String
        let ines: String
        let ivan: String
    }

    /// Runs `medtunnel ARGUMENTS [--api API] [--token TOKEN]` (options, not the environment: a
    /// process launched with its own environment copies this process's, which other tests'
    /// launches race with).
    static func run(_ arguments: [String], token: String? = nil, api: String? = nil) throws -> ProcessHarness.Result {
        var arguments = arguments
        if let api { arguments += ["--api", api] }
        if let token { arguments += ["--token", token] }
        return try ProcessHarness.medtunnel(arguments)
    }

    static func startGateway(
        _ tmp: TemporaryDirectory,
        pki: String,
        state: String,
        name: String
    ) throws
        -> (BackgroundProcess, api: String, pumps: String)
    {
        let gateway = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "gateway", "--pki", pki + "/gateway", "--state-dir", state, "--pump-listen", "127.0.0.1:0",
                "--api-listen", "127.0.0.1:0",
            ],
            in: tmp.url,
            name: name
        )
        let pumps = try gateway.waitForLine(containing: "listening for pumps")
        let api = try gateway.waitForLine(containing: "operator API on ")
        return (
            gateway, String(api.split(separator: " ").last ?? ""),
            String(pumps.split(separator: " ").last ?? "")
        )
    }

    static func setUp() throws -> Bed {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        let state = tmp.sub("state")
        #expect(try run(["pki", "init", "--dir", pki]).status == 0)
        // The pumps enroll themselves (pump-sim --enroll-with), their keys born in their --state-dir.
        for user in ["ines", "ivan"] {
            #expect(try run(["user", "add", "--state-dir", state, "--id", user, "--role", "incident"]).status == 0)
        }
        let ines = try run(["token", "issue", "--state-dir", state, "--user", "ines"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let ivan = try run(["token", "issue", "--state-dir", state, "--user", "ivan"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let (gateway, api, pumps) = try startGateway(tmp, pki: pki, state: state, name: "gateway")
        return Bed(
            tmp: tmp,
            pki: pki,
            state: state,
            gateway: gateway,
            api: api,
            pumpAddress: pumps,
            ines: ines,
            ivan: ivan
        )
    }

    static func pumpSim(_ bed: Bed, serial: String, firmware: String, name: String) throws -> BackgroundProcess {
        try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "pump-sim", "--enroll-with", bed.pki, "--serial", serial, "--connect", bed.pumpAddress, "--state-dir",
                bed.tmp.sub("pumps"), "--firmware", firmware, "--interval", "200", "--connections", "1000",
            ],
            in: bed.tmp.url,
            name: name
        )
    }

    static func get(_ api: String, _ path: String, token: String? = nil) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: try #require(URL(string: api + path)))
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let object = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, object)
    }

    /// Polls `condition` (every 100 ms, at most `seconds`).
    static func eventually(_ seconds: Double = 30, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test(
        "a firmware lockout reaches only that firmware's pump, survives a gateway restart, and takes two people to lift"
    )
    func firmwareLockout() async throws {
        var bed = try Self.setUp()
        let first = try Self.pumpSim(bed, serial: "PUMP-0001", firmware: "fw-a", name: "pump-1")
        let second = try Self.pumpSim(bed, serial: "PUMP-0002", firmware: "fw-b", name: "pump-2")
        defer {
            first.stop()
            second.stop()
            bed.gateway.stop()
        }
        // Each pump-sim enrolls first (a key, a request, the CA's signature): slow on a loaded machine.
        #expect(
            try await Self.eventually(90) {
                let (_, body) = try await Self.get(bed.api, "/v1/pumps", token: bed.ines)
                let pumps = body["pumps"] as? [[String: Any]] ?? []
                return pumps.filter { $0["connected"] as? Bool == true }.count == 2
            }
        )
        let started = try Self.run(
            ["lockout", "start", "--scope", "firmware:fw-b", "--reason", "test: firmware advisory", "--json"],
            token: bed.ines,
            api: bed.api
        )
        #expect(started.status == 0, "\(started.stderr)")
        let lockout = try #require(try JSONSerialization.jsonObject(with: Data(started.stdout.utf8)) as? [String: Any])
        let id = try #require(lockout["id"] as? String)
        #expect(lockout["scope"] as? String == "firmware:fw-b")
        #expect(
            try await Self.eventually {
                Self.shown(try Self.run(["lockout", "show", id], token: bed.ines, api: bed.api).stdout)
                    == ["PUMP-0002": "acknowledged"]
            }
        )
        let (status, pump) = try await Self.get(bed.api, "/v1/pumps/PUMP-0002", token: bed.ines)
        #expect(status == 200)
        let commands = try #require(pump["commands"] as? [String: Any])
        let state = try #require(commands["lockout"] as? [String: Any])
        #expect(state["gateway"] as? String == "locked")
        #expect(state["reported"] as? String == "locked")
        #expect(commands["firmware"] as? String == "fw-b")
        // The pump's reported clinical state, with ages (the simulator reports glucose 110, battery 90).
        let clinical = try #require(commands["clinical"] as? [String: Any])
        #expect((clinical["glucoseMgPerDL"] as? [String: Any])?["value"] as? Int == 110)
        #expect((clinical["batteryPercent"] as? [String: Any])?["stale"] as? Bool == false)
        #expect((clinical["suspended"] as? [String: Any])?["value"] as? Int == 0)
        let (_, other) = try await Self.get(bed.api, "/v1/pumps/PUMP-0001", token: bed.ines)
        #expect(
            ((other["commands"] as? [String: Any])?["lockout"] as? [String: Any])?["gateway"] as? String == "unlocked"
        )

        // A restart keeps the lockout; the pump, reconnecting, gets it first again.
        let before = try Self.lockoutEntries(bed.state)
        bed.gateway.stop()
        let (restarted, api, pumps) = try Self.startGateway(bed.tmp, pki: bed.pki, state: bed.state, name: "gateway-2")
        bed.gateway = restarted
        bed.api = api
        #expect(!pumps.isEmpty)
        let list = try Self.run(["lockout", "list"], token: bed.ines, api: bed.api)
        #expect(list.stdout.contains(id) && list.stdout.contains("active"), "\(list.stdout)")

        // Lifting: the asker cannot confirm; another incident user can.
        #expect(try Self.run(["lockout", "lift", id], token: bed.ines, api: bed.api).status == 0)
        let same = try Self.run(["lockout", "confirm", id], token: bed.ines, api: bed.api)
        #expect(same.status == 4)
        #expect(same.stderr.contains("403 same_person"), "\(same.stderr)")
        let confirmed = try Self.run(["lockout", "confirm", id], token: bed.ivan, api: bed.api)
        #expect(confirmed.status == 0, "\(confirmed.stderr)")
        #expect(confirmed.stdout.contains("lifted"))
        #expect(try Self.lockoutEntries(bed.state) > before)
    }

    @Test("bad options are refused naming the option: --api, --alert-webhook, pump-sim --firmware")
    func badOptions() throws {
        let api = try Self.run(["lockout", "list"], token: "t", api: "not a url")
        #expect(api.status != 0)
        #expect(api.stderr.contains("--api 'not a url' is not an http:// or https:// URL"), "\(api.stderr)")
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        #expect(try Self.run(["pki", "init", "--dir", pki]).status == 0)
        let webhook = try Self.run(
            ["gateway", "--pki", pki + "/gateway", "--state-dir", tmp.sub("state"), "--alert-webhook", "ftp://example"]
        )
        #expect(webhook.status != 0)
        #expect(
            webhook.stderr.contains("--alert-webhook 'ftp://example' is not an http:// or https:// URL"),
            "\(webhook.stderr)"
        )
        let firmware = try Self.run([
            "pump-sim", "--state-dir", tmp.sub("pump"), "--serial", "PUMP-0001", "--connect", "127.0.0.1:1",
            "--firmware",
            String(repeating: "x", count: 65),
        ])
        #expect(firmware.status != 0)
        #expect(firmware.stderr.contains("must be 1 to 64 printable ASCII characters"), "\(firmware.stderr)")
    }

    @Test("bad input: unknown scope, empty reason, no token, an unknown event kind")
    func badInput() async throws {
        let bed = try Self.setUp()
        defer { bed.gateway.stop() }
        let unknown = try Self.run(
            ["lockout", "start", "--scope", "device:X", "--reason", "r"],
            token: bed.ines,
            api: bed.api
        )
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("400 unknown_scope"), "\(unknown.stderr)")
        let empty = try Self.run(
            ["lockout", "start", "--scope", "all", "--reason", " "],
            token: bed.ines,
            api: bed.api
        )
        #expect(empty.stderr.contains("400 empty_reason"), "\(empty.stderr)")
        let none = try Self.run(["lockout", "list"], api: bed.api)
        #expect(none.status != 0)
        #expect(none.stderr.contains("--token"), "\(none.stderr)")
        let (status, body) = try await Self.get(bed.api, "/v1/events?kind=bogus", token: bed.ines)
        #expect(status == 400)
        #expect(body["error"] as? String == "bad_request" && body["reason"] as? String == "invalid_parameter")
        let (anonymous, _) = try await Self.get(bed.api, "/v1/events")
        #expect(anonymous == 401)
        let nobody = try Self.run(
            ["lockout", "start", "--scope", "model:Nobody", "--reason", "r"],
            token: bed.ines,
            api: bed.api
        )
        #expect(nobody.status == 0)
        #expect(nobody.stdout.contains("no pump known to the gateway is in scope"), "\(nobody.stdout)")
    }

    @Test(
        "rules show prints the built-in rules; a malformed rules file is refused naming its line, and the gateway does not start"
    )
    func rulesFile() throws {
        let shown = try Self.run(["rules", "show"])
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("phone_tampering kinds=tunnel_failed"))
        let tmp = try TemporaryDirectory()
        let good = tmp.sub("good.rules")
        try shown.stdout.write(toFile: good, atomically: true, encoding: .utf8)
        #expect(try Self.run(["rules", "show", "--rules", good]).status == 0)
        let bad = tmp.sub("bad.rules")
        try "# comment\nphone_tampering kinds=tunnel_failed by=phone threshold=3 window=ten action=lockout\n"
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try Self.run(["rules", "show", "--rules", bad])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("bad.rules:2"), "\(refused.stderr)")
        let pki = tmp.sub("pki")
        #expect(try Self.run(["pki", "init", "--dir", pki]).status == 0)
        let gateway = try Self.run([
            "gateway", "--pki", pki + "/gateway", "--state-dir", tmp.sub("state"), "--rules", bad,
        ])
        #expect(gateway.status != 0)
        #expect(gateway.stderr.contains("bad.rules:2"), "\(gateway.stderr)")
    }

    /// `SERIAL STATE` lines of `lockout show`.
    static func shown(_ text: String) -> [String: String] {
        var pumps: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("  PUMP-") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2 { pumps[String(parts[0])] = String(parts[1]) }
        }
        return pumps
    }

    /// How many lockout entries the audit log holds (`audit show`).
    static func lockoutEntries(_ state: String) throws -> Int {
        let shown = try run(["audit", "show", "--state-dir", state])
        return shown.stdout.split(separator: "\n").filter { $0.contains("lockout.") }.count
    }
}

import Foundation
import MedTunnelTestSupport
import SQLiteStore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `medtunnel gateway` with its operator API, a relay and pumps as separate processes over
/// loopback; the API read over real HTTP; SIGTERM; a restart on the same state directory.
@Suite("gateway operator API, shutdown and restart as processes", .offThePool)
struct GatewayAPIProcessTests {
    struct Gateway {
        let process: BackgroundProcess
        let pumpPort: String
        let relayPort: String
        let api: URL
        /// An operator's bearer token (olga), for the read routes.
        let token: String
        let metrics: URL?
    }

    func setUp(pumps: [String]) throws -> (TemporaryDirectory, String) {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        // The pumps and the phone enroll themselves (--enroll-with), their keys born in their --state-dir.
        return (tmp, pki)
    }

    func startGateway(
        _ tmp: TemporaryDirectory,
        pki: String,
        name: String = "gateway",
        extra: [String] = []
    ) throws -> Gateway {
        let state = tmp.sub("state")
        if !FileManager.default.fileExists(atPath: state + "/accounts.sqlite") {
            let added = try ProcessHarness.medtunnel([
                "user", "add", "--state-dir", state, "--id", "olga", "--role", "operator",
            ])
            #expect(added.status == 0, "\(added.stderr)")
        }
        let issued = try ProcessHarness.medtunnel(["token", "issue", "--state-dir", state, "--user", "olga"])
        #expect(issued.status == 0, "\(issued.stderr)")
        let process = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "gateway", "--pki", pki + "/gateway", "--state-dir", state, "--pump-listen", "127.0.0.1:0",
                "--relay-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
            ] + extra,
            in: tmp.url,
            name: name
        )
        let pumps = try process.waitForLine(containing: "listening for pumps")
        let relays = try process.waitForLine(containing: "listening for relays")
        let api = try process.waitForLine(containing: "operator API on ")
        let url = try #require(URL(string: String(api.split(separator: " ").last ?? "")))
        var metrics: URL?
        if extra.contains("--metrics-listen") {
            let line = try process.waitForLine(containing: "gateway: metrics on ")
            metrics = URL(string: String(line.split(separator: " ").last ?? ""))
        }
        return Gateway(
            process: process,
            pumpPort: String(pumps.split(separator: ":").last ?? ""),
            relayPort: String(relays.split(separator: ":").last ?? ""),
            api: url,
            token: issued.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
            metrics: metrics
        )
    }

    func get(_ gateway: Gateway, _ path: String, token: String?? = .none) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: gateway.api.appendingPathComponent(path))
        let bearer: String? = token ?? gateway.token
        if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return (status, object ?? [:])
    }

    func metrics(_ gateway: Gateway) async throws -> String {
        var request = URLRequest(url: gateway.api.appendingPathComponent("metrics"))
        request.setValue("Bearer \(gateway.token)", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        return String(decoding: data, as: UTF8.self)
    }

    /// Sends SIGTERM; returns the exit status and how long the gateway took to exit.
    func terminate(_ gateway: Gateway) -> (Int32, Duration) {
        let started = ContinuousClock.now
        gateway.process.process.terminate()
        gateway.process.process.waitUntilExit()
        return (gateway.process.process.terminationStatus, ContinuousClock.now - started)
    }

    func telemetryRows(_ tmp: TemporaryDirectory, serial: String? = nil) throws -> Int {
        let connection = try SQLiteConnection(path: tmp.sub("state/gateway.sqlite"), create: false, readOnly: true)
        let statement = try connection.prepare(
            serial == nil ? "SELECT count(*) FROM telemetry" : "SELECT count(*) FROM telemetry WHERE serial = ?"
        )
        if let serial { try statement.bind(serial, at: 1) }
        _ = try statement.step()
        return Int(statement.int64(0))
    }

    @Test(
        "three pump-sims through a relay process: /v1/pumps shows them connected via the phone with telemetry; /v1/phones and /metrics agree; SIGTERM exits 0 with the telemetry on disk"
    )
    func threePumpsInTheAPI() async throws {
        let serials = ["PUMP-0001", "PUMP-0002", "PUMP-0003"]
        let (tmp, pki) = try self.setUp(pumps: serials)
        let gateway = try self.startGateway(tmp, pki: pki)
        defer { gateway.process.stop() }
        let relay = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "relay", "--state-dir", tmp.sub("phone"), "--enroll-with", pki, "--phone-id", "PHONE-1", "--gateway",
                "127.0.0.1:\(gateway.relayPort)", "--listen", "127.0.0.1:0",
            ],
            in: tmp.url,
            name: "relay"
        )
        defer { relay.stop() }
        let relayAddress = String(
            try relay.waitForLine(containing: "relay: listening for pumps on").split(separator: " ").last ?? ""
        )
        // Long sessions (a message every 50 ms for up to 5 min; stopped by the test), so the
        // pumps are live when asked even on a loaded machine (30 s sessions had ended there).
        let pumps = try serials.map { serial in
            try BackgroundProcess(
                ProcessHarness.medtunnel,
                [
                    "pump-sim", "--state-dir", tmp.sub("pumps"), "--enroll-with", pki, "--serial", serial, "--connect",
                    relayAddress, "--telemetry", "6000", "--interval", "50",
                ],
                in: tmp.url,
                name: serial
            )
        }
        defer { for pump in pumps { pump.stop() } }

        var listed: [[String: Any]] = []
        for _ in 0..<200 {
            let (status, body) = try await self.get(gateway, "v1/pumps")
            #expect(status == 200)
            listed = body["pumps"] as? [[String: Any]] ?? []
            let ready = listed.filter {
                ($0["connected"] as? Bool) == true && ($0["telemetryStored"] as? Int ?? 0) >= 2
            }
            if ready.count == 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(listed.compactMap { $0["serial"] as? String } == serials, "\(listed)")
        for pump in listed {
            #expect(pump["connected"] as? Bool == true, "\(pump)")
            #expect(pump["phone"] as? String == "PHONE-1", "\(pump)")
            #expect(pump["firmware"] as? String == "medtunnel-sim-1", "\(pump)")
            #expect((pump["telemetryStored"] as? Int ?? 0) >= 2, "\(pump)")
            #expect((pump["lastSeen"] as? String)?.hasSuffix("Z") == true, "\(pump)")
        }
        let (status, detail) = try await self.get(gateway, "v1/pumps/PUMP-0002")
        #expect(status == 200)
        let latest = detail["latestTelemetry"] as? [String: Any]
        #expect((latest?["sequence"] as? Int ?? 0) >= 2, "\(detail)")
        #expect(latest?["basalRateMilliunitsPerHour"] as? Int == 850, "\(detail)")

        let (_, phones) = try await self.get(gateway, "v1/phones")
        let phone = (phones["phones"] as? [[String: Any]])?.first
        #expect(phone?["id"] as? String == "PHONE-1")
        #expect(phone?["connected"] as? Bool == true)
        #expect(phone?["pumps"] as? [String] == serials, "\(phones)")
        #expect(phone?["streamsOpen"] as? Int == 3, "\(phones)")
        #expect((phone?["bytesFromPhone"] as? Int ?? 0) > 1_000, "\(phones)")

        let samples = Self.samples(try await self.metrics(gateway))
        #expect(samples["medtunnel_gateway_pumps_connected"] == 3, "\(samples)")
        #expect(samples["medtunnel_gateway_phones_connected"] == 1)
        #expect(samples["medtunnel_gateway_sessions_total"] == 3)
        #expect((samples["medtunnel_gateway_telemetry_stored_total"] ?? 0) >= 6)

        let (exit, took) = self.terminate(gateway)
        #expect(exit == 0, "\(gateway.process.stderr)")
        #expect(took < .seconds(10), "took \(took)")
        #expect(gateway.process.stderr.contains("gateway stopped"), "\(gateway.process.stderr)")
        #expect(gateway.process.stderr.contains("sessions_closed=3"), "\(gateway.process.stderr)")
        // Every acknowledged message is on disk, and at least those the API reported.
        let reported = listed.reduce(0) { $0 + ($1["telemetryStored"] as? Int ?? 0) }
        #expect(try self.telemetryRows(tmp) >= reported)
        // The pumps' sessions ended with the gateway: each heard close_notify, unless the relay
        // reset its link first (it closes a pump link at once when the gateway ends the stream,
        // and a TCP close with the pump's next message unread is a reset).
        for pump in pumps {
            pump.process.waitUntilExit()
            let ended =
                pump.stderr.contains("the link closed before the session finished")
                || pump.stderr.contains("Connection reset by peer")
            #expect(ended, "\(pump.stderr)")
        }
    }

    @Test(
        "telemetry survives a restart: the API shows it again, and sequences a pump sends again after the restart are not stored twice"
    )
    func restartKeepsTelemetry() async throws {
        let (tmp, pki) = try self.setUp(pumps: ["PUMP-0001"])
        let first = try self.startGateway(tmp, pki: pki)
        defer { first.process.stop() }
        let run = try ProcessHarness.medtunnel([
            "pump-sim", "--state-dir", tmp.sub("pumps"), "--enroll-with", pki, "--serial", "PUMP-0001", "--connect",
            "127.0.0.1:\(first.pumpPort)", "--telemetry", "5",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("telemetry acknowledged 5/5"))
        let (exit, _) = self.terminate(first)
        #expect(exit == 0, "\(first.process.stderr)")
        #expect(try self.telemetryRows(tmp, serial: "PUMP-0001") == 5)

        let second = try self.startGateway(tmp, pki: pki, name: "gateway-2")
        defer { second.process.stop() }
        var (status, detail) = try await self.get(second, "v1/pumps/PUMP-0001")
        #expect(status == 200)
        var pump = detail["pump"] as? [String: Any]
        #expect(pump?["connected"] as? Bool == false)
        #expect(pump?["telemetryStored"] as? Int == 5, "\(detail)")
        #expect(pump?["firmware"] as? String == "medtunnel-sim-1")
        #expect((detail["latestTelemetry"] as? [String: Any])?["sequence"] as? Int == 5, "\(detail)")

        // pump-sim starts again at sequence 1: 1…3 are resends of stored messages.
        let again = try ProcessHarness.medtunnel([
            "pump-sim", "--state-dir", tmp.sub("pumps"), "--serial", "PUMP-0001", "--connect",
            "127.0.0.1:\(second.pumpPort)", "--telemetry", "3",
        ])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("telemetry acknowledged 3/3"), "\(again.stdout)")
        (status, detail) = try await self.get(second, "v1/pumps/PUMP-0001")
        pump = detail["pump"] as? [String: Any]
        #expect(pump?["telemetryStored"] as? Int == 5, "\(detail)")
        #expect(pump?["sessions"] as? Int == 2, "\(detail)")
        let (exit2, _) = self.terminate(second)
        #expect(exit2 == 0)
        #expect(try self.telemetryRows(tmp, serial: "PUMP-0001") == 5)
    }

    @Test(
        "as processes: reads need a token; `token revoke` beside the running gateway refuses it from the next request; --metrics-listen serves /metrics alone without a token"
    )
    func tokensAgainstARunningGateway() async throws {
        let (tmp, pki) = try self.setUp(pumps: [])
        let gateway = try self.startGateway(tmp, pki: pki, extra: ["--metrics-listen", "127.0.0.1:0"])
        defer { _ = self.terminate(gateway) }
        let (anonymous, body) = try await self.get(gateway, "v1/pumps", token: .some(nil))
        #expect(anonymous == 401)
        #expect(body["error"] as? String == "unauthenticated" && body["reason"] as? String == "missing")
        #expect(try await self.get(gateway, "v1/pumps").0 == 200)
        let metricsURL = try #require(gateway.metrics)
        let (scraped, response) = try await URLSession.shared.data(from: metricsURL)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: scraped, as: UTF8.self).contains("medtunnel_gateway_pumps_connected"))
        let (other, _) = try await URLSession.shared.data(
            from: metricsURL.deletingLastPathComponent().appendingPathComponent("v1/pumps")
        )
        #expect(String(decoding: other, as: UTF8.self).contains("not_found"))

        let revoked = try ProcessHarness.medtunnel([
            "token", "revoke", "--state-dir", tmp.sub("state"), "--user", "olga", "--by", "admin-1",
        ])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(revoked.stdout.contains("tokens of olga revoked"))
        let (refused, refusal) = try await self.get(gateway, "v1/pumps")
        #expect(refused == 401)
        #expect(refusal["reason"] as? String == "revoked", "\(refusal)")
        let neither = try ProcessHarness.medtunnel(["token", "revoke", "--state-dir", tmp.sub("state")])
        #expect(neither.status == 64)
        #expect(neither.stderr.contains("exactly one of --jti"), "\(neither.stderr)")
    }

    @Test("--api-listen on a non-loopback address is refused without TLS, naming the TLS flags")
    func remoteAPIRefused() throws {
        let (tmp, pki) = try self.setUp(pumps: [])
        let result = try ProcessHarness.medtunnel([
            "gateway", "--pki", pki + "/gateway", "--state-dir", tmp.sub("state"), "--pump-listen", "127.0.0.1:0",
            "--api-listen", "0.0.0.0:0",
        ])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("--api-listen 0.0.0.0:0 is not a loopback address"), "\(result.stderr)")
        #expect(result.stderr.contains("--api-tls-cert FILE and --api-tls-key FILE"), "\(result.stderr)")
    }

    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}

/// The gateway's refusals to start name the flag, the value and the system's reason, without
/// the usage text; and a command that would start a new state directory says so.
@Suite("gateway start refusals and new state directories, as processes", .offThePool)
struct GatewayStartRefusalTests {
    @Test("an unknown --log-level, a missing --pki, an uncreatable --state-dir and a port in use are each named")
    func refusals() throws {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        func start(_ arguments: [String]) throws -> ProcessHarness.Result {
            try ProcessHarness.medtunnel(["gateway", "--pump-listen", "127.0.0.1:0"] + arguments)
        }
        let level = try start(["--pki", pki + "/gateway", "--state-dir", tmp.sub("state"), "--log-level", "verbose"])
        #expect(level.status == 64)
        #expect(level.stderr.contains("'verbose' is invalid for '--log-level") && level.stderr.contains("warning"))
        let remoteMetrics = try start([
            "--pki", pki + "/gateway", "--state-dir", tmp.sub("state"), "--metrics-listen", "0.0.0.0:0",
        ])
        #expect(remoteMetrics.status == 64)
        #expect(remoteMetrics.stderr.contains("--metrics-listen 0.0.0.0:0 is not a loopback address"))
        let tokenFile = tmp.sub("scrape.token")
        try "scrape-token-0123456789".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        chmod(tokenFile, 0o644)
        let exposed = try start([
            "--pki", pki + "/gateway", "--state-dir", tmp.sub("state"), "--metrics-token-file", tokenFile,
        ])
        #expect(exposed.status != 0)
        #expect(exposed.stderr.contains("is readable by group or others (mode 644)"), "\(exposed.stderr)")
        let missing = try start(["--pki", tmp.sub("nope"), "--state-dir", tmp.sub("state")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("--pki \(tmp.sub("nope")): no such directory"), "\(missing.stderr)")
        #expect(!missing.stderr.contains("Usage:") && !missing.stderr.contains("NSCocoaErrorDomain"))
        let state = try start(["--pki", pki + "/gateway", "--state-dir", "/proc/nope/state"])
        #expect(state.status == 1)
        #expect(
            state.stderr.contains("--state-dir /proc/nope/state cannot be created: /proc/nope: No such file"),
            "\(state.stderr)"
        )
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(bound == 0 && listen(holder, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(holder, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let busy = try ProcessHarness.medtunnel([
            "gateway", "--pki", pki + "/gateway", "--state-dir", tmp.sub("state"), "--pump-listen",
            "127.0.0.1:\(port)",
        ])
        #expect(busy.status == 1)
        #expect(
            busy.stderr.contains("cannot listen on 127.0.0.1:\(port) (--pump-listen): Address already in use"),
            "\(busy.stderr)"
        )
        #expect(!busy.stderr.contains("bind(descriptor"))
    }

    @Test("under --log-format json a refusal to start is one JSON record on stderr, level critical, with the same text")
    func jsonRefusal() throws {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        let refused = try ProcessHarness.medtunnel([
            "gateway", "--pump-listen", "127.0.0.1:0", "--pki", pki + "/gateway", "--state-dir", "/proc/nope/state",
            "--log-format", "json",
        ])
        #expect(refused.status == 1)
        let lines = refused.stderr.split(separator: "\n")
        let line = try #require(lines.last, "nothing on stderr")
        #expect(lines.count == 1, "\(refused.stderr)")
        let record = try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            "not a JSON record: \(line)"
        )
        #expect(record["level"] as? String == "critical", "\(record)")
        let message = try #require(record["message"] as? String)
        #expect(
            message.hasPrefix("Error: --state-dir /proc/nope/state cannot be created: /proc/nope: No such file"),
            "\(message)"
        )
    }

    @Test("`user add` into a directory with no gateway state says it creates a new one")
    func newStateDirectory() throws {
        let tmp = try TemporaryDirectory()
        let typo = tmp.sub("stat")
        let added = try ProcessHarness.medtunnel([
            "user", "add", "--state-dir", typo, "--id", "olga", "--role", "operator",
        ])
        #expect(added.status == 0)
        #expect(added.stderr.contains("holds no gateway state yet; creating a new one"), "\(added.stderr)")
        let again = try ProcessHarness.medtunnel([
            "user", "add", "--state-dir", typo, "--id", "ines", "--role", "incident",
        ])
        #expect(!again.stderr.contains("creating a new one"), "\(again.stderr)")
    }
}

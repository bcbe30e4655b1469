import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The gateway as operations see it: `--log-format json` (every line of stdout and stderr is a
/// JSON object; the access log names route templates, statuses and users, never tokens), and the
/// product metrics on `/metrics` after real activity, checked against docs/metrics.md.
@Suite("logs and metrics of a gateway process", .offThePool)
struct ObservabilityProcessTests {
    static let docs = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/metrics.md")

    /// A gateway under `--log-format json` with a pump that took changes, a held change, a
    /// lockout in force and a failed handshake; the scrape and the gateway's output.
    struct Run {
        var metrics = ""
        var stdout = ""
        var stderr = ""
        var tokens: [String] = []
        var requestIDHeader: String?
        var scrapeRequestID: String?
    }

    /// The message of the first JSON line of `process`'s stdout whose message contains `marker`.
    static func announced(_ process: BackgroundProcess, _ marker: String) throws -> String {
        let line = try process.waitForLine(containing: marker, timeout: 60)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return try #require(object?["message"] as? String, "not a JSON record: \(line)")
    }

    func run() async throws -> Run {
        var setup = try ChangeProcessTests.Setup()
        _ = try ChangeProcessTests.Setup.medtunnel([
            "user", "add", "--state-dir", setup.state, "--id", "ines", "--role", "incident",
        ])
        setup.tokens["ines"] = try ChangeProcessTests.Setup.medtunnel([
            "token", "issue", "--state-dir", setup.state, "--user", "ines", "--ttl", "15m",
        ])
        let gateway = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "gateway", "--pki", setup.pki + "/gateway", "--state-dir", setup.state, "--pump-listen",
                "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--log-format", "json", "--checkpoint-interval", "1s",
                "--metrics-listen", "127.0.0.1:0",
            ],
            in: setup.tmp.url,
            name: "gateway"
        )
        defer { gateway.stop() }
        let pumpPort = String(try Self.announced(gateway, "listening for pumps").split(separator: ":").last ?? "")
        let apiText = String(try Self.announced(gateway, "operator API on ").split(separator: " ").last ?? "")
        let scrapeText = String(try Self.announced(gateway, "metrics on ").split(separator: " ").last ?? "")
        let api = ChangeProcessTests.API(base: try #require(URL(string: apiText)))
        let pumpState = setup.tmp.sub("pump-state")
        let pump = try setup.pumpSim(connect: "127.0.0.1:\(pumpPort)", stateDirectory: pumpState, name: "pump")
        defer { pump.stop() }
        _ = try pump.waitForLine(containing: "last applied sequence 0", timeout: 60)
        try await setup.pair(api, pumpState: pumpState)
        try await setup.setTherapy(api)
        try await api.waitForTelemetry(token: setup.tokens["drsmith"]!)

        // Applied, rejected, and held for approval.
        let (created, bolus) = try await api.submit(
            "{\"kind\": \"bolus\", \"milliunits\": 2000}",
            token: setup.tokens["alice"]!
        )
        #expect(created == 201, "\(bolus)")
        let applied = try await api.settled(try #require(bolus["id"] as? String), token: setup.tokens["alice"]!)
        #expect(applied["state"] as? String == "applied", "\(applied)")
        let (rejected, _) = try await api.submit(
            "{\"kind\": \"bolus\", \"milliunits\": 12000}",
            token: setup.tokens["alice"]!
        )
        #expect(rejected == 422)
        let (held, _) = try await api.submit(
            "{\"kind\": \"set_suspend_threshold\", \"mgdL\": 85}",
            token: setup.tokens["drsmith"]!
        )
        #expect(held == 202)
        // A lockout of another pump: in force, PUMP-0001 stays unlocked.
        let (started, lockout, _) = try await api.call(
            "POST",
            "v1/lockouts",
            token: setup.tokens["ines"],
            body: Data("{\"scope\": \"pump:PUMP-0999\", \"reason\": \"metrics test\"}".utf8),
            headers: ["Content-Type": "application/json"]
        )
        #expect(started == 201, "\(lockout)")
        // A handshake that fails: a security event and a handshake failure to count.
        // (HTTP where TLS is expected.)
        _ = try? await URLSession.shared.data(from: try #require(URL(string: "http://127.0.0.1:\(pumpPort)/")))
        // A read with a serial in its path, for the access log.
        let (read, _, headers) = try await api.call("GET", "v1/pumps/PUMP-0001", token: setup.tokens["drsmith"])
        #expect(read == 200)

        var run = Run()
        run.requestIDHeader = (headers["X-Request-Id"] ?? headers["x-request-id"]) as? String
        run.tokens = Array(setup.tokens.values)
        // The refreshed gauges follow within 5 s; the event counters at once.
        for _ in 0..<100 {
            var request = URLRequest(url: api.base.appendingPathComponent("metrics"))
            request.setValue("Bearer \(setup.tokens["ines"]!)", forHTTPHeaderField: "Authorization")
            let (data, _) = try await URLSession.shared.data(for: request)
            run.metrics = String(decoding: data, as: UTF8.self)
            let samples = GatewayAPIProcessTests.samples(run.metrics)
            if samples["medtunnel_gateway_lockouts_in_force"] == 1,
                (samples["medtunnel_gateway_audit_entries"] ?? 0) > 5,
                run.metrics.contains("medtunnel_gateway_handshake_failures_total{")
            {
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        // One scrape on the tokenless metrics listener, for its access record.
        let (_, scraped) = try await URLSession.shared.data(from: try #require(URL(string: scrapeText)))
        #expect((scraped as? HTTPURLResponse)?.statusCode == 200)
        run.scrapeRequestID = (scraped as? HTTPURLResponse)?.value(forHTTPHeaderField: "X-Request-Id")
        gateway.process.terminate()
        gateway.process.waitUntilExit()
        #expect(gateway.process.terminationStatus == 0, "\(gateway.stderr)")
        run.stdout = gateway.stdout
        run.stderr = gateway.stderr
        return run
    }

    @Test(
        "--log-format json: every line the gateway writes parses as one JSON object; the access log has route templates, statuses, users and request ids; no token appears; /metrics exports every product series with sane values, exactly the list of docs/metrics.md"
    )
    func logsAndMetrics() async throws {
        let run = try await self.run()

        // Every line of both streams is one JSON object with the four fixed keys.
        var records: [[String: Any]] = []
        for (name, text) in [("stdout", run.stdout), ("stderr", run.stderr)] {
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "\(name) line is not a JSON object: \(line)")
                guard let object else { continue }
                #expect(object["level"] is String && object["label"] is String && object["message"] is String)
                let time = object["time"] as? String ?? ""
                #expect(time.hasSuffix("Z") && time.count == 24, "\(time)")
                records.append(object)
            }
        }
        let access = records.filter { $0["label"] as? String == "medtunnel.access" }
        #expect(
            access.contains {
                $0["route"] as? String == "/v1/pumps/{serial}" && $0["status"] as? String == "200"
                    && $0["user"] as? String == "drsmith" && $0["method"] as? String == "GET"
                    && ($0["request_id"] as? String)?.count == 16 && $0["duration_ms"] is String
            },
            "\(access)"
        )
        #expect(access.contains { $0["route"] as? String == "/v1/pumps/{serial}/changes" }, "\(access)")
        // The metrics listener's scrape: logged, and with no user (it takes no token).
        #expect(
            access.contains {
                $0["route"] as? String == "/metrics" && $0["status"] as? String == "200" && $0["user"] == nil
                    && $0["request_id"] as? String == run.scrapeRequestID
            },
            "\(access)"
        )
        #expect(access.contains { $0["status"] as? String == "422" && $0["user"] as? String == "alice" }, "\(access)")
        #expect(!access.contains { ($0["route"] as? String)?.contains("PUMP-0001") == true }, "\(access)")
        let requestID = try #require(run.requestIDHeader)
        #expect(access.contains { $0["request_id"] as? String == requestID })
        for token in run.tokens {
            #expect(!run.stdout.contains(token) && !run.stderr.contains(token), "a token is in the output")
            // Not even its signature alone.
            let signature = String(token.split(separator: ".").last ?? "")
            #expect(!run.stderr.contains(signature))
        }

        // The product metrics, present and sane.
        let samples = GatewayAPIProcessTests.samples(run.metrics)
        #expect(samples["medtunnel_gateway_changes_total{state=\"applied\",kind=\"bolus\"}"] == 1, "\(run.metrics)")
        #expect(samples["medtunnel_gateway_changes_total{state=\"rejected\",kind=\"bolus\"}"] == 1)
        #expect(samples["medtunnel_gateway_changes_total{state=\"expired\",kind=\"bolus\"}"] == 0)
        #expect(samples["medtunnel_gateway_approvals_waiting"] == 1)
        #expect(samples["medtunnel_gateway_change_delivery_seconds_count"] == 1)
        let delivery = samples["medtunnel_gateway_change_delivery_seconds_sum"] ?? -1
        #expect(delivery >= 0 && delivery < 60, "\(delivery)")
        #expect((samples["medtunnel_gateway_audit_entries"] ?? 0) > 5)
        let checkpointAge = samples["medtunnel_gateway_audit_checkpoint_age_seconds"] ?? -1
        #expect(checkpointAge >= 0 && checkpointAge < 30, "\(checkpointAge)")
        #expect(samples["medtunnel_gateway_audit_cosignature_age_seconds"]?.isNaN == true)
        #expect(samples["medtunnel_gateway_lockouts_in_force"] == 1)
        #expect((samples["medtunnel_gateway_pumps_lockout{state=\"unlocked\"}"] ?? 0) >= 1)
        #expect(samples["medtunnel_gateway_pumps_lockout{state=\"locked\"}"] == 0)
        #expect(samples.keys.contains { $0.hasPrefix("medtunnel_alerts_total{rule=") })
        #expect(samples["medtunnel_gateway_sessions_closed_total{reason=\"idle\"}"] == 0)

        // docs/metrics.md lists exactly what /metrics exports, with the same types.
        let documented = try Self.documentedMetrics()
        var exported: [String: String] = [:]
        for line in run.metrics.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            exported[String(parts[2])] = String(parts[3])
        }
        let expected = documented.filter { !$0.value.exported.hasPrefix("with --") }.mapValues { $0.type }
        #expect(
            exported == expected,
            "undocumented: \(exported.filter { expected[$0.key] != $0.value }), not exported: \(expected.filter { exported[$0.key] != $0.value })"
        )
    }

    @Test("--log-format takes text or json: another value is refused by gateway, relay and witness, naming both")
    func logFormatValidated() throws {
        for command in [["gateway"], ["relay"], ["witness", "run"]] {
            let result = try ProcessHarness.medtunnel(command + ["--log-format", "xml"])
            #expect(result.status == 64, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("'xml' is invalid for '--log-format"), "\(result.stderr)")
            #expect(result.stderr.contains("'json'") && result.stderr.contains("'text'"), "\(result.stderr)")
        }
    }

    /// The rows of docs/metrics.md's tables: name → (type, exported).
    static func documentedMetrics() throws -> [String: (type: String, exported: String)] {
        let text = try String(contentsOf: Self.docs, encoding: .utf8)
        var rows: [String: (type: String, exported: String)] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `medtunnel_") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            // "", name, type, labels, exported, meaning, ""
            let name = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            rows[name] = (cells[2], cells[4])
        }
        return rows
    }
}

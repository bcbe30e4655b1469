import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The setting-change story with every part a real process: `medtunnel gateway` (pump and relay
/// listeners, operator API), `medtunnel relay`, `medtunnel pump-sim --state-dir`, accounts and
/// tokens from `medtunnel user add` / `token issue`, all over loopback and real HTTP.
@Suite("setting changes through the operator API, gateway, relay and pump as processes", .offThePool)
struct ChangeProcessTests {
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Examples/policy")

    struct API {
        let base: URL

        /// Sends a request; answers the status, the JSON body and the headers.
        func call(
            _ method: String,
            _ path: String,
            token: String?,
            body: Data? = nil,
            headers: [String: String] = [:]
        ) async throws -> (Int, [String: Any], [AnyHashable: Any]) {
            var request = URLRequest(url: self.base.appendingPathComponent(path))
            request.httpMethod = method
            request.httpBody = body
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as? HTTPURLResponse
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            return (http?.statusCode ?? 0, object ?? [:], http?.allHeaderFields ?? [:])
        }

        /// Waits until the gateway holds a telemetry message of PUMP-0001 (the policy reads the
        /// pump's reported state: a bolus asked before its first report needs approval).
        func waitForTelemetry(token: String) async throws {
            // 60 s: on a loaded machine the pump's first session (enrollment, handshake) is slow.
            for _ in 0..<1200 {
                let (_, pump, _) = try await self.call("GET", "v1/pumps/PUMP-0001", token: token)
                if pump["latestTelemetry"] is [String: Any],
                    (pump["pump"] as? [String: Any])?["connected"] as? Bool == true
                {
                    return
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw HarnessError("PUMP-0001 sent no telemetry within 60 s")
        }

        func submit(
            _ change: String,
            token: String,
            key: String = UUID().uuidString
        ) async throws -> (Int, [String: Any]) {
            let (status, body, _) = try await self.call(
                "POST",
                "v1/pumps/PUMP-0001/changes",
                token: token,
                body: Data(change.utf8),
                headers: ["Idempotency-Key": key, "Content-Type": "application/json"]
            )
            return (status, body)
        }

        /// Polls the change until it reaches a final state (or 20 s pass).
        func settled(_ id: String, token: String) async throws -> [String: Any] {
            var last: [String: Any] = [:]
            for _ in 0..<200 {
                let (_, body, _) = try await self.call("GET", "v1/changes/\(id)", token: token)
                last = body
                if ["applied", "refused_by_pump", "expired", "not_applied", "cancelled", "rejected"]
                    .contains(body["state"] as? String ?? "")
                {
                    return body
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            return last
        }
    }

    @Test(
        "a bolus within limits is applied and acknowledged with its audit index; one above the prescription is rejected with its reason; a change outside the recommended range is held, approved by a second clinician and applied"
    )
    func story() async throws {
        let setup = try Setup()
        let tokens = setup.tokens
        let (gateway, api) = try setup.startGateway(name: "gateway")
        defer { gateway.stop() }
        let state = setup.state
        let (relay, pump) = try await setup.connectPairedPump(gateway, api: api)
        defer {
            pump.stop()
            relay.stop()
        }

        // 1. A bolus within limits: accepted, delivered, applied, acknowledged.
        let (created, bolus) = try await api.submit(
            "{\"kind\": \"bolus\", \"milliunits\": 2000}",
            token: tokens["alice"]!
        )
        #expect(created == 201, "\(bolus)")
        let bolusID = try #require(bolus["id"] as? String)
        let applied = try await api.settled(bolusID, token: tokens["alice"]!)
        #expect(applied["state"] as? String == "applied", "\(applied)\n\(gateway.stderr)")
        let history = applied["history"] as? [[String: Any]] ?? []
        #expect(history.map { $0["to"] as? String } == ["accepted", "queued", "sent", "applied"])
        #expect(history.allSatisfy { $0["auditIndex"] is Int }, "\(history)")
        #expect(applied["sequence"] as? Int == 1)

        // 2. Above the prescription: rejected with the reason, never sent.
        let (rejectedStatus, rejected) = try await api.submit(
            "{\"kind\": \"bolus\", \"milliunits\": 12000}",
            token: tokens["alice"]!
        )
        #expect(rejectedStatus == 422, "\(rejected)")
        #expect(rejected["state"] as? String == "rejected")
        let reasons = (rejected["decision"] as? [String: Any])?["reasons"] as? [[String: Any]] ?? []
        #expect(reasons.contains { $0["code"] as? String == "prescription_max_bolus_exceeded" }, "\(reasons)")

        // 3. Outside the recommended range: held, self-approval refused, a second clinician approves.
        let (heldStatus, held) = try await api.submit(
            "{\"kind\": \"set_suspend_threshold\", \"mgdL\": 85}",
            token: tokens["drsmith"]!
        )
        #expect(heldStatus == 202, "\(held)")
        let heldID = try #require(held["id"] as? String)
        let (selfStatus, selfApproval, _) = try await api.call(
            "POST",
            "v1/changes/\(heldID)/approve",
            token: tokens["drsmith"]
        )
        #expect(selfStatus == 403 && selfApproval["reason"] as? String == "self_approval", "\(selfApproval)")
        let (approveStatus, approved, _) = try await api.call(
            "POST",
            "v1/changes/\(heldID)/approve",
            token: tokens["drjones"]
        )
        #expect(approveStatus == 200, "\(approved)")
        let threshold = try await api.settled(heldID, token: tokens["drjones"]!)
        #expect(threshold["state"] as? String == "applied", "\(threshold)\n\(gateway.stderr)")
        #expect(threshold["sequence"] as? Int == 2)

        // Unauthenticated and unauthorized calls.
        let (noToken, missing, headers) = try await api.call("GET", "v1/changes/\(bolusID)", token: nil)
        #expect(noToken == 401 && missing["reason"] as? String == "missing")
        #expect((headers["Www-Authenticate"] ?? headers["WWW-Authenticate"]) != nil, "\(headers)")

        // The gateway stops; the audit log verifies; the pump's state file agrees.
        gateway.process.terminate()
        gateway.process.waitUntilExit()
        pump.stop()
        let verify = try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", state])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let show = try ProcessHarness.medtunnel(["audit", "show", "--state-dir", state, "--format", "jsonl"])
        for kind in ["pump.therapy.set", "change.requested", "command.sent", "command.acknowledged", "change.approved"]
        {
            #expect(show.stdout.contains("\"\(kind)\""), "\(kind)")
        }
        #expect(try setup.pumpStateLine(setup.tmp.sub("pump-state")).contains("last applied sequence 2, high-water 2"))
    }

    @Test(
        "the pump dies after applying a bolus, before acknowledging it; the gateway is SIGKILLed with it in flight: after both restart the bolus is settled applied from the hello, never re-sent, and the log verifies",
        arguments: LogBackend.allCases
    )
    func crashes(log: LogBackend) async throws {
        let setup = try Setup(database: try log.database())
        let pumpState = setup.tmp.sub("pump-state")
        let (first, api) = try setup.startGateway(name: "gateway-1")
        defer { first.stop() }
        let pumpPort = String(try first.waitForLine(containing: "listening for pumps").split(separator: ":").last ?? "")
        let crashing = try setup.pumpSim(
            connect: "127.0.0.1:\(pumpPort)",
            stateDirectory: pumpState,
            name: "pump-1",
            environment: ["MEDTUNNEL_CRASH_AFTER_PERSIST": "1"]
        )
        _ = try crashing.waitForLine(containing: "last applied sequence 0")
        try await setup.pair(api, pumpState: pumpState)
        try await setup.setTherapy(api)
        try await api.waitForTelemetry(token: setup.tokens["drsmith"]!)
        let (created, bolus) = try await api.submit(
            "{\"kind\": \"bolus\", \"milliunits\": 2000}",
            token: setup.tokens["alice"]!
        )
        #expect(created == 201, "\(bolus)")
        let id = try #require(bolus["id"] as? String)
        crashing.process.waitUntilExit()
        #expect(crashing.process.terminationStatus == 137)  // persisted, then died before the acknowledgement
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()

        let (second, restartedAPI) = try setup.startGateway(name: "gateway-2")
        defer { second.stop() }
        let port = String(try second.waitForLine(containing: "listening for pumps").split(separator: ":").last ?? "")
        // On a shared database a starting node cannot tell its own dead sessions from another
        // node's live ones: the command stays sent until the pump's hello makes it uncertain
        // (or is uncertain already, when the gateway saw the pump's session end before it died).
        let waiting: Set<String> = log == .postgres ? ["sent", "uncertain"] : ["uncertain"]
        let (_, uncertain, _) = try await restartedAPI.call("GET", "v1/changes/\(id)", token: setup.tokens["alice"])
        #expect(waiting.contains(uncertain["state"] as? String ?? ""), "\(uncertain)")
        let pump = try setup.pumpSim(connect: "127.0.0.1:\(port)", stateDirectory: pumpState, name: "pump-2")
        defer { pump.stop() }
        _ = try pump.waitForLine(containing: "last applied sequence 1, high-water 1")
        let settled = try await restartedAPI.settled(id, token: setup.tokens["alice"]!)
        #expect(settled["state"] as? String == "applied", "\(settled)\n\(second.stderr)")
        let steps = (settled["history"] as? [[String: Any]] ?? []).compactMap { $0["to"] as? String }
        #expect(steps == ["accepted", "queued", "sent", "uncertain", "applied"], "\(steps)")
        second.process.terminate()
        second.process.waitUntilExit()
        pump.stop()
        let verify = try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", setup.state])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        // One command ever reached the pump: sequence 1, applied once.
        #expect(try setup.pumpStateLine(pumpState).contains("last applied sequence 1, high-water 1"))
    }

    @Test(
        "the gateway is SIGKILLed after a bolus's send is durable in the audit log, before the command leaves: after the restart the same Idempotency-Key finds it uncertain, the pump's hello settles it not applied, it is never sent, the next bolus applies as sequence 2, and the log verifies",
        arguments: LogBackend.allCases
    )
    func crashBetweenAuditAndDelivery(log: LogBackend) async throws {
        let setup = try Setup(database: try log.database())
        let pumpState = setup.tmp.sub("pump-state")
        let (first, api) = try setup.startGateway(
            name: "gateway-1",
            environment: ["MEDTUNNEL_CRASH_AFTER_SEND_AUDITED": "1"]
        )
        defer { first.stop() }
        let firstPort = String(
            try first.waitForLine(containing: "listening for pumps").split(separator: ":").last ?? ""
        )
        let pump = try setup.pumpSim(connect: "127.0.0.1:\(firstPort)", stateDirectory: pumpState, name: "pump-1")
        defer { pump.stop() }
        _ = try pump.waitForLine(containing: "last applied sequence 0")
        try await setup.pair(api, pumpState: pumpState)
        try await setup.setTherapy(api)
        try await api.waitForTelemetry(token: setup.tokens["drsmith"]!)
        let bolus = "{\"kind\": \"bolus\", \"milliunits\": 2000}"
        let key = UUID().uuidString
        // The answer may or may not leave before the gateway kills itself: the key finds it later.
        _ = try? await api.submit(bolus, token: setup.tokens["alice"]!, key: key)
        let deadline = ContinuousClock.now + .seconds(30)
        while first.process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        try #require(!first.process.isRunning, "the gateway did not kill itself after the send was audited")
        #expect(first.process.terminationReason == .uncaughtSignal && first.process.terminationStatus == SIGKILL)
        pump.stop()
        #expect(try setup.pumpStateLine(pumpState).contains("last applied sequence 0, high-water 0"))

        let (second, restartedAPI) = try setup.startGateway(name: "gateway-2")
        defer { second.stop() }
        let secondPort = String(
            try second.waitForLine(containing: "listening for pumps").split(separator: ":").last ?? ""
        )
        let (status, found) = try await restartedAPI.submit(bolus, token: setup.tokens["alice"]!, key: key)
        // On a shared database a starting node cannot tell its own dead sessions from another
        // node's live ones: the command stays sent until the pump's hello makes it uncertain.
        let waiting = log == .postgres ? "sent" : "uncertain"
        #expect(status == 201, "\(found)")
        #expect(found["state"] as? String == waiting, "\(found)")
        let id = try #require(found["id"] as? String)
        let again = try setup.pumpSim(connect: "127.0.0.1:\(secondPort)", stateDirectory: pumpState, name: "pump-2")
        defer { again.stop() }
        let settled = try await restartedAPI.settled(id, token: setup.tokens["alice"]!)
        #expect(settled["state"] as? String == "not_applied", "\(settled)\n\(second.stderr)")
        let steps = (settled["history"] as? [[String: Any]] ?? []).compactMap { $0["to"] as? String }
        #expect(steps == ["accepted", "queued", "sent", "uncertain", "not_applied"], "\(steps)")

        let (created, next) = try await restartedAPI.submit(bolus, token: setup.tokens["alice"]!)
        #expect(created == 201, "\(next)")
        let applied = try await restartedAPI.settled(try #require(next["id"] as? String), token: setup.tokens["alice"]!)
        #expect(applied["state"] as? String == "applied", "\(applied)")
        #expect(applied["sequence"] as? Int == 2, "\(applied)")
        second.process.terminate()
        second.process.waitUntilExit()
        again.stop()
        let verify = try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", setup.state])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        // Sequence 1 never reached the pump; sequence 2 did, once.
        #expect(try setup.pumpStateLine(pumpState).contains("last applied sequence 2, high-water 2"))
    }

    @Test(
        "`medtunnel user disable`, its own process beside a running gateway, refuses the user's tokens from the gateway's next request on"
    )
    func disableBesideRunningGateway() async throws {
        let setup = try Setup()
        let (gateway, api) = try setup.startGateway(name: "gateway")
        defer { gateway.stop() }
        let port = String(try gateway.waitForLine(containing: "listening for pumps").split(separator: ":").last ?? "")
        let pumpState = setup.tmp.sub("pump-state")
        let pump = try setup.pumpSim(connect: "127.0.0.1:\(port)", stateDirectory: pumpState, name: "pump")
        defer { pump.stop() }
        try await setup.pair(api, pumpState: pumpState)
        try await setup.setTherapy(api)
        try await api.waitForTelemetry(token: setup.tokens["drsmith"]!)
        // drjones reads the pump's changes a few times: the gateway has the account cached.
        for _ in 0..<3 {
            let (status, body, _) = try await api.call(
                "GET",
                "v1/pumps/PUMP-0001/changes",
                token: setup.tokens["drjones"]
            )
            #expect(status == 200, "\(body)")
        }
        let disabled = try Setup.medtunnel(["user", "disable", "--state-dir", setup.state, "--id", "drjones"])
        #expect(disabled.contains("user drjones disabled"))
        let (status, body, _) = try await api.call("GET", "v1/pumps/PUMP-0001/changes", token: setup.tokens["drjones"])
        #expect(status == 401 && body["reason"] as? String == "disabled_user", "\(status) \(body)")
        let (other, _, _) = try await api.call("GET", "v1/pumps/PUMP-0001/changes", token: setup.tokens["drsmith"])
        #expect(other == 200)
    }

    /// A PKI with PUMP-0001 and PHONE-1, a state directory with alice (the patient) and her
    /// clinicians drsmith and drjones, and a token for each.
    struct Setup {
        let tmp: TemporaryDirectory
        let pki: String
        let state: String
        var tokens: [String: String] = [:]

        /// `database`: the state directory's audit log is attached there (`db attach`) before
        /// the first user is added, so every entry goes to PostgreSQL.
        init(database: String? = nil) throws {
            self.tmp = try TemporaryDirectory()
            self.pki = tmp.sub("pki")
            self.state = tmp.sub("state")
            _ = try Self.medtunnel(["pki", "init", "--dir", pki])
            if let database {
                _ = try Self.medtunnel(["db", "attach", "--state-dir", state, "--database", database])
            }
            // PUMP-0001 and PHONE-1 enroll themselves (--enroll-with), their keys born in their --state-dir.
            let users: [(String, String, [String])] = [
                ("alice", "patient", ["patient=patient-001", "phone=PHONE-1"]),
                ("drsmith", "clinician", ["patient=patient-001"]),
                ("drjones", "clinician", ["patient=patient-001"]),
            ]
            for (id, role, attributes) in users {
                _ = try Self.medtunnel(
                    ["user", "add", "--state-dir", state, "--id", id, "--role", role]
                        + attributes.flatMap { ["--attr", $0] }
                )
                tokens[id] = try Self.medtunnel(["token", "issue", "--state-dir", state, "--user", id, "--ttl", "15m"])
            }
        }

        static func medtunnel(_ arguments: [String]) throws -> String {
            let result = try ProcessHarness.medtunnel(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// `medtunnel gateway` with pump, relay and API listeners on free ports.
        func startGateway(
            name: String,
            environment: [String: String] = [:],
            arguments: [String] = []
        ) throws -> (BackgroundProcess, API) {
            let gateway = try BackgroundProcess(
                ProcessHarness.medtunnel,
                [
                    "gateway", "--pki", pki + "/gateway", "--state-dir", state, "--pump-listen", "127.0.0.1:0",
                    "--relay-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                ] + arguments,
                in: tmp.url,
                name: name,
                environment: environment
            )
            let line = try gateway.waitForLine(containing: "operator API on ")
            return (gateway, API(base: try #require(URL(string: String(line.split(separator: " ").last ?? "")))))
        }

        /// The start of every story: PHONE-1's relay to `gateway`'s relay listener and PUMP-0001
        /// through it (staying connected, showing its pairing code), paired to alice's patient,
        /// with drsmith's prescription and its first telemetry in. Stop both when done.
        func connectPairedPump(
            _ gateway: BackgroundProcess,
            api: API
        ) async throws -> (relay: BackgroundProcess, pump: BackgroundProcess) {
            let relays = try gateway.waitForLine(containing: "listening for relays")
            let relay = try BackgroundProcess(
                ProcessHarness.medtunnel,
                [
                    "relay", "--state-dir", tmp.sub("phone"), "--enroll-with", pki, "--phone-id", "PHONE-1",
                    "--gateway", "127.0.0.1:\(relays.split(separator: ":").last ?? "")", "--listen", "127.0.0.1:0",
                ],
                in: tmp.url,
                name: "relay"
            )
            let relayAddress = String(
                try relay.waitForLine(containing: "relay: listening for pumps on").split(separator: " ").last ?? ""
            )
            let pumpState = tmp.sub("pump-state")
            let pump = try self.pumpSim(connect: relayAddress, stateDirectory: pumpState, name: "pump")
            _ = try pump.waitForLine(containing: "last applied sequence 0", timeout: 60)
            try await self.pair(api, pumpState: pumpState)
            try await self.setTherapy(api)
            try await api.waitForTelemetry(token: tokens["drsmith"]!)
            return (relay, pump)
        }

        /// alice pairs PUMP-0001 with the code its pump-sim shows (written to
        /// `pumpState/pairing-code.txt` by `--pairing-payload`), once its offer reached the gateway.
        func pair(_ api: API, pumpState: String) async throws {
            let path = pumpState + "/pairing-code.txt"
            var code: String?
            for _ in 0..<200 where code == nil {
                code = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(
                    in: .whitespacesAndNewlines
                )
                if code?.isEmpty ?? true { code = nil }
                if code == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let text = try #require(code, "the pump wrote no pairing code to \(path)")
            var last: (Int, [String: Any]) = (0, [:])
            for _ in 0..<100 {
                let (status, body, _) = try await api.call(
                    "POST",
                    "v1/pairings",
                    token: tokens["alice"],
                    body: try JSONSerialization.data(withJSONObject: ["code": text]),
                    headers: ["Content-Type": "application/json"]
                )
                last = (status, body)
                guard status == 409, body["reason"] as? String == "pairing_code_not_offered" else { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(last.0 == 201 && last.1["patientId"] as? String == "patient-001", "\(last)")
        }

        /// drsmith sets PUMP-0001's prescription, model and current settings (the examples').
        func setTherapy(_ api: API) async throws {
            let (status, put, _) = try await api.call(
                "PUT",
                "v1/pumps/PUMP-0001/prescription",
                token: tokens["drsmith"],
                body: try ChangeProcessTests.therapyDocument()
            )
            #expect(status == 200, "\(put)")
            #expect(put["auditIndex"] is Int)
        }

        /// PUMP-0001 with its command state under `stateDirectory`, staying connected (a message
        /// every 50 ms for up to 60 s), starting from the example model and settings.
        func pumpSim(
            connect: String,
            stateDirectory: String,
            name: String,
            environment: [String: String] = [:]
        ) throws -> BackgroundProcess {
            try BackgroundProcess(
                ProcessHarness.medtunnel,
                [
                    "pump-sim", "--enroll-with", pki, "--serial", "PUMP-0001", "--connect", connect, "--telemetry",
                    "1200",
                    "--interval", "50", "--state-dir", stateDirectory, "--pump-model",
                    ChangeProcessTests.examples.appendingPathComponent("pump-model.json").path, "--initial-settings",
                    ChangeProcessTests.examples.appendingPathComponent("settings.json").path, "--pairing-payload",
                    stateDirectory + "/pairing-code.txt",
                ],
                in: tmp.url,
                name: name,
                environment: environment
            )
        }

        /// The state line `pump-sim` prints for the pump's state file (it then fails to connect).
        func pumpStateLine(_ stateDirectory: String) throws -> String {
            let run = try ProcessHarness.medtunnel([
                "pump-sim", "--enroll-with", pki, "--serial", "PUMP-0001", "--connect", "127.0.0.1:1", "--state-dir",
                stateDirectory,
            ])
            return run.stdout.split(separator: "\n").first { $0.contains("last applied sequence") }.map(String.init)
                ?? ""
        }
    }

    /// `{"prescription", "model", "settings"}` from the shipped examples, which the pump-sim
    /// above starts with.
    static func therapyDocument() throws -> Data {
        func read(_ name: String) throws -> String {
            try String(contentsOf: examples.appendingPathComponent(name), encoding: .utf8)
        }
        return Data(
            """
            {"prescription": \(try read("prescription.json")), "model": \(try read("pump-model.json")),
             "settings": \(try read("settings.json"))}
            """.utf8
        )
    }
}

/// Where a process test's gateway keeps its audit log: the state directory's SQLite, or a fresh
/// PostgreSQL database attached to it (`db attach`), so that crash and recovery run on both.
enum LogBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { "audit log in \(self.rawValue)" }

    /// nil for SQLite; a new database's URL for PostgreSQL.
    func database() throws -> String? {
        self == .postgres ? try PostgresTestServer.newDatabase() : nil
    }
}

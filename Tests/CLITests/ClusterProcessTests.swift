import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Gateway nodes on one PostgreSQL database (docs/cluster.md): node leases, the checkpoint role,
/// a node stopped past its lease, a node cut from the database.
@Suite("gateway nodes on one PostgreSQL database", .offThePool)
struct ClusterProcessTests {
    typealias Setup = ChangeProcessTests.Setup
    typealias API = ChangeProcessTests.API

    /// A second state directory on the same database: the same checkpoint key (one log, one
    /// signer key), attached to the same URL.
    static func secondStateDirectory(_ setup: Setup, database: String, name: String) throws -> String {
        // The joining key is checked against a checkpoint of the log.
        _ = try Setup.medtunnel(["audit", "checkpoint", "--state-dir", setup.state])
        let state = try Self.directoryWithTheSameKey(setup, name: name)
        _ = try Setup.medtunnel(["db", "attach", "--state-dir", state, "--database", database])
        return state
    }

    /// A new state directory (0700) holding a copy (0600) of `setup`'s checkpoint key and, when
    /// it has one, of its token signing key (docs/cluster.md: every node gets the same files, so a
    /// token issued on one verifies on all).
    static func directoryWithTheSameKey(_ setup: Setup, name: String) throws -> String {
        let state = setup.tmp.sub(name)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        chmod(state, 0o700)
        for file in ["checkpoint-key.pem", "token-signing-key.pem"]
        where file == "checkpoint-key.pem" || FileManager.default.fileExists(atPath: setup.state + "/" + file) {
            let key = state + "/" + file
            try FileManager.default.copyItem(atPath: setup.state + "/" + file, toPath: key)
            chmod(key, 0o600)
        }
        return state
    }

    static func startNode(
        _ setup: Setup,
        state: String,
        node: String,
        lease: String = "2s",
        extra: [String] = []
    ) throws -> (BackgroundProcess, API) {
        let gateway = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "gateway", "--pki", setup.pki + "/gateway", "--state-dir", state, "--pump-listen", "127.0.0.1:0",
                "--relay-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--node-id", node, "--node-lease",
                lease, "--checkpoint-interval", "250ms",
            ] + extra,
            in: setup.tmp.url,
            name: node
        )
        let line = try gateway.waitForLine(containing: "operator API on ")
        return (gateway, API(base: try #require(URL(string: String(line.split(separator: " ").last ?? "")))))
    }

    static func health(_ api: API) async throws -> (status: Int, body: [String: Any]) {
        let (status, body, _) = try await api.call("GET", "healthz", token: nil)
        return (status, body)
    }

    static func lease(_ body: [String: Any]) -> [String: Any] { body["lease"] as? [String: Any] ?? [:] }

    /// Polls `condition` every 100 ms until it holds or `seconds` pass; returns the time it took.
    @discardableResult
    static func eventually(
        _ what: String,
        within seconds: Double,
        _ condition: () async throws -> Bool
    ) async throws -> Duration {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(seconds) {
            if try await condition() { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("not within \(seconds) s: \(what)")
    }

    @Test("a node id or a lease the gateway cannot use is refused at start, naming the flag")
    func badNodeOptions() throws {
        let setup = try Setup()
        let base = [
            "gateway", "--pki", setup.pki + "/gateway", "--state-dir", setup.state, "--pump-listen", "127.0.0.1:0",
            "--api-listen", "127.0.0.1:0",
        ]
        let badID = try ProcessHarness.medtunnel(base + ["--node-id", "gw 1!"])
        #expect(badID.status != 0 && badID.stderr.contains("--node-id 'gw 1!': use 1-64 of"), "\(badID.stderr)")
        let shortLease = try ProcessHarness.medtunnel(base + ["--node-lease", "500ms"])
        #expect(
            shortLease.status != 0 && shortLease.stderr.contains("--node-lease '500ms' must be between 1s and 5m"),
            "\(shortLease.stderr)"
        )
    }

    @Test("a second state directory cannot join a log that has entries and no checkpoint yet: it is told to sign one")
    func joinNeedsACheckpoint() throws {
        let database = try PostgresTestServer.newDatabase()
        let setup = try Setup(database: database)  // its users are entries; no checkpoint signed yet
        let state = try Self.directoryWithTheSameKey(setup, name: "state-b")
        let refused = try ProcessHarness.medtunnel(["db", "attach", "--state-dir", state, "--database", database])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("and no checkpoint yet"), "\(refused.stderr)")
        #expect(refused.stderr.contains("medtunnel audit checkpoint --state-dir DIR"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state + "/audit-database.url"))
    }

    @Test(
        "two nodes: each holds its node lease, exactly one signs checkpoints; stopped (SIGSTOP) past its lease, that node loses the role to the other, and when it runs again takes a new lease without the role; the log verifies"
    )
    func checkpointRoleMoves() async throws {
        let database = try await PostgresTestServer.newDatabase()
        let setup = try Setup(database: database)
        let stateB = try Self.secondStateDirectory(setup, database: database, name: "state-b")
        let (nodeA, apiA) = try Self.startNode(setup, state: setup.state, node: "node-a")
        defer { nodeA.stop() }
        let (nodeB, apiB) = try Self.startNode(setup, state: stateB, node: "node-b")
        defer { nodeB.stop() }

        var roles: [String: [String]] = [:]
        try await Self.eventually("both nodes hold their lease and one has the checkpoint role", within: 20) {
            for (name, api) in [("node-a", apiA), ("node-b", apiB)] {
                let (_, body) = try await Self.health(api)
                guard Self.lease(body)["state"] as? String == "held", body["node"] as? String == name else {
                    return false
                }
                roles[name] = Self.lease(body)["roles"] as? [String] ?? []
            }
            return roles.values.filter { $0 == ["checkpoint"] }.count == 1
        }
        #expect(roles.values.filter { $0.contains("checkpoint") }.count == 1, "\(roles)")
        let holder = roles["node-a"] == ["checkpoint"] ? "node-a" : "node-b"
        let (stopped, other, otherAPI, stoppedAPI) =
            holder == "node-a" ? (nodeA, nodeB, apiB, apiA) : (nodeB, nodeA, apiA, apiB)
        // The node id is in every log line.
        #expect(nodeA.stderr.contains("node=node-a") && !nodeA.stderr.contains("node=node-b"))

        // Stopped past its lease (2 s): the other node takes the role.
        #expect(kill(stopped.process.processIdentifier, SIGSTOP) == 0)
        let takeover = try await Self.eventually("the other node takes the checkpoint role", within: 20) {
            Self.lease(try await Self.health(otherAPI).body)["roles"] as? [String] == ["checkpoint"]
        }
        // It signs: an entry appended beside it is covered by a checkpoint.
        let otherState = holder == "node-a" ? stateB : setup.state
        _ = try Setup.medtunnel([
            "user", "add", "--state-dir", otherState, "--id", "nurse", "--role", "clinician", "--attr",
            "patient=patient-001",
        ])
        try await Self.eventually("a checkpoint covers every entry", within: 10) {
            let sizes = try PostgresTestServer.sql(
                database,
                "SELECT (SELECT count(*) FROM entry) = (SELECT max(size) FROM checkpoint)"
            )
            return sizes.trimmingCharacters(in: .whitespacesAndNewlines) == "t"
        }

        #expect(kill(stopped.process.processIdentifier, SIGCONT) == 0)
        try await Self.eventually("the stopped node holds a new lease, without the role", within: 20) {
            let lease = Self.lease(try await Self.health(stoppedAPI).body)
            return lease["state"] as? String == "held" && lease["epoch"] as? Int == 2
                && lease["roles"] as? [String] == []
        }
        #expect(stopped.stderr.contains("node lease lost"), "\(stopped.stderr)")
        #expect(Self.lease(try await Self.health(otherAPI).body)["roles"] as? [String] == ["checkpoint"])
        print("cluster: checkpoint role taken over \(takeover) after SIGSTOP with a 2 s lease")

        stopped.process.terminate()
        other.process.terminate()
        stopped.process.waitUntilExit()
        other.process.waitUntilExit()
        let key = try #require(
            try Setup.medtunnel(["audit", "checkpoint", "--state-dir", setup.state, "--show-verifier-key"])
                .split(separator: "\n").first { $0.hasPrefix("verifier key: ") }?.dropFirst("verifier key: ".count)
        )
        let verified = try ProcessHarness.medtunnel([
            "audit", "verify", "--database", database, "--verifier-key", String(key),
        ])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
    }

    @Test(
        "a node cut from PostgreSQL: the change in flight is answered 503 database_unavailable, the next at once, /healthz fails and the lease runs out; once the database is back the client's retry with the same Idempotency-Key is recorded once and applied, the lease is taken again, and the log verifies"
    )
    func databaseCut() async throws {
        let server = try await PostgresTestServer.newDatabase()
        let serverURL = try #require(URL(string: server))
        let proxy = try await TCPCutProxy.start(targetPort: try #require(serverURL.port))
        let database = server.replacingOccurrences(of: ":\(serverURL.port!)/", with: ":\(proxy.port)/")
        var setup = try Setup(database: database)
        _ = try Setup.medtunnel(["user", "add", "--state-dir", setup.state, "--id", "ines", "--role", "incident"])
        setup.tokens["ines"] = try Setup.medtunnel([
            "token", "issue", "--state-dir", setup.state, "--user", "ines", "--ttl", "15m",
        ])
        let (gateway, api) = try Self.startNode(setup, state: setup.state, node: "node-a")
        defer { gateway.stop() }
        let (relay, pump) = try await setup.connectPairedPump(gateway, api: api)
        defer {
            pump.stop()
            relay.stop()
        }
        try await Self.eventually("the node holds its lease", within: 10) {
            Self.lease(try await Self.health(api).body)["state"] as? String == "held"
        }

        await proxy.blackhole()
        let alice = try #require(setup.tokens["alice"])
        // The first change's transaction is cut off: after the statement bound (5 s) it is
        // answered 503, its outcome unknown to the gateway (the commit may have landed).
        let firstKey = UUID().uuidString
        let first = Task { () async throws -> (Int, String?) in
            let (status, body) = try await api.submit(
                "{\"kind\": \"bolus\", \"milliunits\": 1000}",
                token: alice,
                key: firstKey
            )
            return (status, body["reason"] as? String)
        }
        // The gateway notices within its statement timeout (5 s): /healthz fails, naming why.
        var lastHealth: [String: Any] = [:]
        let noticed: Duration
        do {
            noticed = try await Self.eventually("/healthz reports the database unavailable", within: 30) {
                let (status, body) = try await Self.health(api)
                lastHealth = body
                return status == 503 && (body["auditLog"] as? String)?.hasPrefix("database unavailable") == true
            }
        } catch {
            Issue.record("\(error); /healthz: \(lastHealth)\ngateway: \(gateway.stderr.suffix(4000))")
            await proxy.restore()
            return
        }
        let (cutStatus, cutReason) = try await first.value
        #expect(cutStatus == 503 && cutReason == "database_unavailable", "\(cutStatus) \(cutReason ?? "")")
        // From then on a change is refused at once (for this pump, or any other).
        let asked = ContinuousClock.now
        let refused = try await api.submit("{\"kind\": \"bolus\", \"milliunits\": 500}", token: alice)
        let refusedAfter = ContinuousClock.now - asked
        #expect(refused.0 == 503 && refused.1["reason"] as? String == "database_unavailable", "\(refused.1)")
        #expect(refusedAfter < .seconds(2), "refused after \(refusedAfter)")
        // So is a pairing (its offer and binding are shared) and a lockout, each at once.
        for (path, body) in [
            ("v1/pairings", "{\"code\": \"MTP1.not-a-code\"}"),
            ("v1/lockouts", "{\"scope\": \"all\", \"reason\": \"during the cut\"}"),
        ] {
            let token = path == "v1/pairings" ? alice : try #require(setup.tokens["ines"])
            let started = ContinuousClock.now
            let (status, answer, _) = try await api.call(
                "POST",
                path,
                token: token,
                body: Data(body.utf8),
                headers: ["Content-Type": "application/json"]
            )
            let after = ContinuousClock.now - started
            #expect(status == 503 && answer["reason"] as? String == "database_unavailable", "\(path): \(answer)")
            #expect(after < .seconds(2), "\(path) refused after \(after)")
        }
        // The lease (2 s) cannot be renewed: it runs out, and nothing more is sent from here.
        let leaseLost = try await Self.eventually("the lease ran out", within: 15) {
            Self.lease(try await Self.health(api).body)["state"] as? String == "none"
        }
        print(
            "cluster: cut noticed after \(noticed), a change refused in \(refusedAfter), lease gone \(leaseLost) later"
        )

        await proxy.restore()
        // The client retries the first change with its Idempotency-Key once the database is back:
        // recorded once, whether or not the cut-off commit had landed.
        var retried: (Int, [String: Any]) = (0, [:])
        try await Self.eventually("the retried change is taken", within: 30) {
            retried = try await api.submit("{\"kind\": \"bolus\", \"milliunits\": 1000}", token: alice, key: firstKey)
            return retried.0 == 201 || retried.0 == 200
        }
        let firstID = try #require(retried.1["id"] as? String, "\(retried.1)")
        let applied = try await api.settled(firstID, token: alice)
        #expect(applied["state"] as? String == "applied", "\(applied)\n\(gateway.stderr)")
        try await Self.eventually("healthy again with a new lease", within: 20) {
            let (status, body) = try await Self.health(api)
            return status == 200 && Self.lease(body)["state"] as? String == "held"
        }
        // Nothing was lost or doubled: one change.requested for the first bolus, none for the refused one.
        let requested = try await PostgresTestServer.sql(
            server,
            "SELECT count(*) FROM entry WHERE position('change.requested'::bytea in body) > 0"
        )
        #expect(requested.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(requested)")

        gateway.process.terminate()
        gateway.process.waitUntilExit()
        let verified = try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", setup.state])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        await proxy.stop()
    }
    /// Two nodes on one database behind HAProxy (TCP mode, round robin) and a fleet of `count`
    /// pumps connecting through it, each pump owned by one node or the other.
    struct Fleet {
        let setup: Setup
        let database: String
        let nodes: [String: (process: BackgroundProcess, api: API)]
        let balancer: HAProxyTestServer
        let fleet: BackgroundProcess

        func owned(_ node: String) async throws -> Int {
            let api = try #require(nodes[node]).api
            return ClusterProcessTests.lease(try await ClusterProcessTests.health(api).body)["ownedPumps"] as? Int ?? 0
        }

        func stop() {
            fleet.stop()
            balancer.stop()
            for node in nodes.values { node.process.stop() }
        }
    }

    static func fleet(count: Int, incidentStaff: Bool = false) async throws -> Fleet {
        let database = try await PostgresTestServer.newDatabase()
        var setup = try Setup(database: database)
        if incidentStaff {
            _ = try Setup.medtunnel(["user", "add", "--state-dir", setup.state, "--id", "ines", "--role", "incident"])
            setup.tokens["ines"] = try Setup.medtunnel([
                "token", "issue", "--state-dir", setup.state, "--user", "ines", "--ttl", "15m",
            ])
        }
        let stateB = try Self.secondStateDirectory(setup, database: database, name: "state-b")
        let a = try Self.startNode(setup, state: setup.state, node: "node-a")
        let b = try Self.startNode(setup, state: stateB, node: "node-b")
        func pumpPort(_ node: BackgroundProcess) throws -> Int {
            let line = try node.waitForLine(containing: "listening for pumps on")
            return try #require(Int(line.split(separator: ":").last ?? ""))
        }
        // Checked on each node's /healthz, as docs/cluster.md advises: a stopped node is taken
        // out (its kernel still accepts on the pump port), and so is a node without its lease.
        let balancer = try HAProxyTestServer(frontends: [
            .init(
                name: "pumps",
                backends: [
                    .init(name: "node-a", port: try pumpPort(a.0), healthPort: try #require(a.1.base.port)),
                    .init(name: "node-b", port: try pumpPort(b.0), healthPort: try #require(b.1.base.port)),
                ]
            )
        ])
        let fleet = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "pump-sim", "--enroll-with", setup.pki, "--count", "\(count)", "--serial-prefix", "FLEET",
                "--connect", "127.0.0.1:\(balancer.port("pumps"))", "--telemetry", "0", "--interval", "500ms",
                "--response-timeout", "1s", "--progress", "0", "--state-dir", setup.tmp.sub("fleet"),
            ],
            in: setup.tmp.url,
            name: "fleet"
        )
        let running = Fleet(
            setup: setup,
            database: database,
            nodes: ["node-a": (a.0, a.1), "node-b": (b.0, b.1)],
            balancer: balancer,
            fleet: fleet
        )
        try await Self.eventually("every pump owned, by both nodes", within: 90) {
            let onA = try await running.owned("node-a")
            let onB = try await running.owned("node-b")
            return onA + onB == count && onA > 0 && onB > 0
        }
        return running
    }

    @Test(
        "a lockout started through one node reaches the pumps connected to the other: every pump of the fleet applies it within seconds, and the store of every node has it"
    )
    func lockoutFansOutToEveryNode() async throws {
        let count = 8
        let running = try await Self.fleet(count: count, incidentStaff: true)
        defer { running.stop() }
        let api = try #require(running.nodes["node-a"]).api
        let (status, started, _) = try await api.call(
            "POST",
            "v1/lockouts",
            token: running.setup.tokens["ines"],
            body: Data("{\"scope\": \"all\", \"reason\": \"cluster fan-out test\"}".utf8),
            headers: ["Content-Type": "application/json"]
        )
        #expect(status == 201, "\(started)")
        let id = try #require(started["id"] as? String)
        let took = try await Self.eventually("every pump of both nodes applied the lockout", within: 30) {
            let (_, detail, _) = try await api.call("GET", "v1/lockouts/\(id)", token: running.setup.tokens["ines"])
            let pumps = detail["pumps"] as? [[String: Any]] ?? []
            return pumps.count == count && pumps.allSatisfy { $0["state"] as? String == "acknowledged" }
        }
        // The notification arrives within milliseconds; the bound covers the pumps' round trips.
        #expect(took < .seconds(10), "\(took)")
        print("cluster: a lockout applied by \(count) pumps on two nodes after \(took)")
        let acknowledged = try await PostgresTestServer.sql(
            running.database,
            "SELECT count(*) FROM lockout_ack WHERE lockout_id = '\(id)'"
        )
        #expect(acknowledged.trimmingCharacters(in: .whitespacesAndNewlines) == "\(count)")
        // Pumps of node-b among them: the lockout crossed from the node it was started on.
        let ownedByB = try await PostgresTestServer.sql(
            running.database,
            "SELECT count(*) FROM lease_owner WHERE kind = 'pump' AND node_id = 'node-b'"
        )
        #expect((Int(ownedByB.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0, "\(ownedByB)")
    }

    @Test(
        "the telemetry of a fleet spread over two nodes is in the shared tables, every pump's whichever node holds it; each node lists every pump, connected, and answers for each; no node keeps gateway.sqlite or events.sqlite"
    )
    func telemetryInTheSharedTables() async throws {
        let count = 6
        let running = try await Self.fleet(count: count, incidentStaff: true)
        defer { running.stop() }
        // Each node writes the telemetry of the pumps it holds (both hold some: `fleet`).
        try await Self.eventually("telemetry of every pump in the shared tables", within: 30) {
            let pumps = try PostgresTestServer.sql(
                running.database,
                "SELECT count(DISTINCT t.serial) FROM telemetry t JOIN pumps p ON p.serial = t.serial"
            )
            return Int(pumps.trimmingCharacters(in: .whitespacesAndNewlines)) == count
        }
        // Whichever node an API client reaches lists the whole fleet, each pump connected (to
        // one node or the other), and answers for each pump with its telemetry.
        let ines = try #require(running.setup.tokens["ines"])
        for (name, node) in running.nodes.sorted(by: { $0.key < $1.key }) {
            var listed: [[String: Any]] = []
            var answer: (Int, [String: Any]) = (0, [:])
            do {
                try await Self.eventually("\(name) lists every pump, connected", within: 30) {
                    let (status, body, _) = try await node.api.call("GET", "v1/pumps", token: ines)
                    answer = (status, body)
                    listed = body["pumps"] as? [[String: Any]] ?? []
                    return status == 200 && listed.count == count
                        && listed.allSatisfy { $0["connected"] as? Bool == true }
                }
            } catch {
                Issue.record("\(error): \(answer)")
                continue
            }
            for pump in listed {
                let serial = try #require(pump["serial"] as? String)
                let (status, detail, _) = try await node.api.call("GET", "v1/pumps/\(serial)", token: ines)
                #expect(status == 200, "\(name) \(serial): \(detail)")
                let summary = detail["pump"] as? [String: Any] ?? [:]
                #expect(summary["connected"] as? Bool == true, "\(name) \(serial): \(detail)")
                #expect((summary["telemetryStored"] as? Int ?? 0) > 0, "\(name) \(serial): \(detail)")
                #expect(detail["latestTelemetry"] is [String: Any], "\(name) \(serial): \(detail)")
            }
        }
        for state in [running.setup.state, running.setup.tmp.sub("state-b")] {
            for file in ["gateway.sqlite", "events.sqlite"] {
                #expect(!FileManager.default.fileExists(atPath: "\(state)/\(file)"), "\(state)/\(file)")
            }
        }
    }

    @Test(
        "a node killed (SIGKILL) with pumps on it: they reconnect through HAProxy to the other node, which takes each pump's lease over once the dead node's lease ran out, with the next epoch; every pump owned by exactly one node"
    )
    func takeoverAfterKill() async throws {
        let count = 20
        let running = try await Self.fleet(count: count)
        defer { running.stop() }
        let onA = try await running.owned("node-a")
        #expect(kill(try #require(running.nodes["node-a"]).process.process.processIdentifier, SIGKILL) == 0)
        let back = try await Self.eventually("node-b owns every pump", within: 60) {
            try await running.owned("node-b") == count
        }
        // The bound: the dead node's lease (2 s), HAProxy noticing (about 1 s), the pumps' backoff.
        #expect(back < .seconds(15), "\(back)")
        print("cluster: \(onA) pumps of a killed node back on the other, with their leases, after \(back)")
        let owners = try await PostgresTestServer.sql(
            running.database,
            "SELECT node_id, epoch, count(*) FROM lease_owner WHERE kind = 'pump' GROUP BY node_id, epoch ORDER BY epoch"
        )
        // node-a's pumps were taken with epoch 2, node-b's kept epoch 1.
        #expect(
            owners.split(separator: "\n").map(String.init) == ["node-b|1|\(count - onA)", "node-b|2|\(onA)"],
            "\(owners)"
        )
    }

    @Test(
        "a node stopped (SIGSTOP) past its lease with pumps on it: they move to the other node; run again, it finds its lease lapsed, takes a new one and owns none of them; every pump owned once, by the other"
    )
    func pausedNodeYields() async throws {
        let count = 10
        let running = try await Self.fleet(count: count)
        defer { running.stop() }
        let nodeA = try #require(running.nodes["node-a"]).process
        let onA = try await running.owned("node-a")
        #expect(kill(nodeA.process.processIdentifier, SIGSTOP) == 0)
        // HAProxy's check of /healthz takes the stopped node out; its pumps time out (1 s) and
        // reconnect through it to node-b.
        let moved: Duration
        do {
            moved = try await Self.eventually("node-b owns every pump", within: 60) {
                try await running.owned("node-b") == count
            }
        } catch {
            let states = (try? running.balancer.serverStates()) ?? [:]
            let healthB = try await Self.health(try #require(running.nodes["node-b"]).api)
            Issue.record(
                """
                \(error); HAProxy: \(states); node-b: \(healthB.body)
                fleet: \(running.fleet.stdout.suffix(1500)) \(running.fleet.stderr.suffix(1500))
                node-b: \(try #require(running.nodes["node-b"]).process.stderr.suffix(3000))
                """
            )
            kill(nodeA.process.processIdentifier, SIGCONT)
            return
        }
        #expect(kill(nodeA.process.processIdentifier, SIGCONT) == 0)
        try await Self.eventually("node-a runs again with a new lease and no pump", within: 30) {
            let lease = Self.lease(try await Self.health(try #require(running.nodes["node-a"]).api).body)
            return lease["state"] as? String == "held" && lease["epoch"] as? Int == 2
                && lease["ownedPumps"] as? Int == 0
        }
        #expect(nodeA.stderr.contains("node lease lost"), "\(nodeA.stderr)")
        #expect(try await running.owned("node-b") == count)
        let owners = try await PostgresTestServer.sql(
            running.database,
            "SELECT node_id, count(*) FROM lease_owner WHERE kind = 'pump' GROUP BY node_id"
        )
        #expect(owners.trimmingCharacters(in: .whitespacesAndNewlines) == "node-b|\(count)", "\(owners)")
        print("cluster: \(onA) pumps of a stopped node owned by the other after \(moved)")
    }
}

import AccessTokens
import Accounts
import AnomalyRules
import AuditLog
import ChangeRequests
import CommandPipeline
import Foundation
import Gateway
import GatewayTLS
import MedTunnelIdentity
import MedTunnelTestSupport
import NIOPosix
import PumpRuntime
import PumpSimulator
import RelayCore
import RelayHostility
import SafetyPolicy
import Synchronization
import Testing
import TherapyJSON
import TherapyModel

/// The real command path in this process, over loopback: a gateway opened with its command
/// pipeline (`GatewayServer.open`: audit log, accounts, tokens, change requests), a phone relay
/// with something in its links' byte path, and PUMP-0001 as a simulated pump (mbedTLS) with
/// its `PumpRuntime` and state file. Changes go in through the pipeline's API with bearer
/// tokens, as the operator API would send them.
struct CommandPath: Sendable {
    static let serial = "PUMP-0001"
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Examples/policy")

    let bed: RelayTestBed
    let commands: CommandPipeline
    /// The phone relay; it reconnects its uplink when the gateway drops it.
    let relay: PhoneRelay
    let pump: SimulatedPump
    /// Where pumps reach the relay.
    let port: Int
    let clock: @Sendable () -> Timestamp
    private let issuer: TokenIssuer

    /// Runs `body` with the path up (the relay's links go through `interposer`) and the
    /// pipeline's workers running, then takes it down.
    static func run(
        clock: @escaping @Sendable () -> Timestamp = CommandPipeline.wallClock,
        interposer: @escaping PumpLinkInterposer,
        _ body: @Sendable (CommandPath) async throws -> Void
    ) async throws {
        try await Self.run(
            clock: clock,
            rules: RuleSet(rules: []),
            relay: { bed in (try bed.relay(interposer: interposer), nil) },
            body: { path, _ in try await body(path) }
        )
    }

    /// The same through a hostile relay (``HostilitySpec``).
    static func run(
        clock: @escaping @Sendable () -> Timestamp = CommandPipeline.wallClock,
        hostile spec: String,
        rules: RuleSet = RuleSet(rules: []),
        _ body: @Sendable (CommandPath, HostileRelay) async throws -> Void
    ) async throws {
        try await Self.run(
            clock: clock,
            rules: rules,
            relay: { bed in try bed.hostileRelay(spec) },
            body: { path, hostile in try await body(path, try #require(hostile)) }
        )
    }

    private static func run(
        clock: @escaping @Sendable () -> Timestamp,
        rules: RuleSet,
        relay makeRelay: (RelayTestBed) throws -> (relay: PhoneRelay, hostile: HostileRelay?),
        body: @Sendable (CommandPath, HostileRelay?) async throws -> Void
    ) async throws {
        let bed = try await RelayTestBed(
            pumps: [Self.serial],
            phones: ["PHONE-1", "PHONE-2"],
            // The model the pump's runtime runs (the example file), as its certificate names it.
            pumpModel: "Example 0.05 U pump",
            commandClock: clock,
            rules: rules
        )
        let (relay, hostile) = try makeRelay(bed)
        let uplink = try await relay.connectUplink()
        let listening = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        do {
            let path = try await CommandPath(
                bed: bed,
                relay: relay,
                port: try #require(listening.channel.localAddress?.port),
                clock: clock
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await path.commands.run() }
                group.addTask { await bed.gateway.watchRevocations() }
                group.addTask { await bed.gateway.events?.run() }
                group.addTask { await relay.keepUplink(after: uplink) }
                do {
                    try await body(path, hostile)
                } catch {
                    group.cancelAll()
                    throw error
                }
                group.cancelAll()
            }
        } catch {
            Issue.record(error)
        }
        try? await listening.channel.close()
        await relay.closeUplink()
        await bed.shutdown()
    }

    private init(
        bed: RelayTestBed,
        relay: PhoneRelay,
        port: Int,
        clock: @escaping @Sendable () -> Timestamp
    ) async throws {
        self.bed = bed
        self.relay = relay
        self.port = port
        self.clock = clock
        self.commands = try #require(bed.gateway.commands, "the gateway was opened without its pipeline")
        let state = bed.gateway.configuration.stateDirectory
        let accounts = try AccountStore.open(stateDirectory: state)
        // alice, the patient wearing PUMP-0001; drsmith, her clinician.
        let patient = try AccountAttribute(key: .patient, value: "patient-001")
        let accountsToAdd: [(id: String, role: ActorRole, attributes: [AccountAttribute])] = [
            ("alice", .patient, [patient, try AccountAttribute(key: .phone, value: "PHONE-1")]),
            ("drsmith", .clinician, [patient]),
            ("ines", .incident, []),
            ("ivan", .incident, []),
        ]
        for account in accountsToAdd {
            _ = try await accounts.add(
                id: account.id,
                role: account.role,
                attributes: try AccountAttributes(account.attributes, for: account.role),
                by: try AuditActor(id: "admin-1", role: "admin"),
                now: clock(),
                audit: self.commands.audit
            )
        }
        self.issuer = try await TokenIssuer(key: try TokenSigningKey.load(stateDirectory: state), accounts: accounts)
        self.pump = try bed.pump(Self.serial)
        let pumpState = bed.directory.appendingPathComponent("pump-state").path
        try FileManager.default.createDirectory(atPath: pumpState, withIntermediateDirectories: true)
        self.pump.runtime = try PumpRuntime(
            PumpRuntime.Configuration(
                serial: Self.serial,
                model: try TherapyJSON.pumpModel(
                    from: Data(contentsOf: Self.examples.appendingPathComponent("pump-model.json"))
                ),
                commandPublicKeyPEM: try bed.pki.commandPublicKeyPEM(),
                deviceKeyPEM: try bed.throwaway.keyPEM(.pump(serial: Self.serial)),
                stateFilePath: PumpRuntime.stateFilePath(directory: pumpState, serial: Self.serial)
            ),
            factorySettings: try TherapyJSON.settings(
                from: Data(contentsOf: Self.examples.appendingPathComponent("settings.json"))
            )
        )
    }

    // MARK: The operator side

    /// `Bearer <token>` for `user`, issued now by the gateway's clock.
    func bearer(_ user: String) async throws -> String {
        "Bearer "
            + (try await self.issuer.issue(to: user, lifetime: TokenLifetime(parsing: "15m"), now: self.clock())).token
    }

    /// PUMP-0001 is bound to alice's patient directly in the change store (audited as
    /// `pump.paired`), for the tests that are not about pairing; `PairingPathTests` pair through
    /// the pump's code instead. Nothing when it is paired already.
    func pair() async throws {
        guard try await self.commands.store.binding(for: Self.serial) == nil else { return }
        _ = try await self.commands.store.pair(
            serial: Self.serial,
            patientID: "patient-001",
            phoneID: "PHONE-1",
            nonceHash: "fixture-\(UUID().uuidString)",
            by: ChangeActor(id: "alice", role: "patient"),
            now: self.clock()
        )
    }

    /// alice posts `code` (the text of the pump's QR code) to pair the pump.
    func postPairingCode(_ code: String) async throws -> PumpBinding {
        try await self.commands.pair(
            body: try JSONSerialization.data(withJSONObject: ["code": code]),
            authorization: try await self.bearer("alice")
        )
    }

    /// drsmith sets PUMP-0001's prescription, model and settings (the example files the pump
    /// starts from), pairing it first if it is not (therapy is only for paired pumps).
    func setTherapy() async throws {
        try await self.pair()
        try await self.setTherapyWithoutPairing()
    }

    /// drsmith's `PUT /v1/pumps/PUMP-0001/prescription`, as it is.
    func setTherapyWithoutPairing() async throws {
        func read(_ name: String) throws -> String {
            try String(contentsOf: Self.examples.appendingPathComponent(name), encoding: .utf8)
        }
        _ = try await self.commands.setTherapy(
            serial: Self.serial,
            body: Data(
                """
                {"prescription": \(try read("prescription.json")), "model": \(try read("pump-model.json")),
                 "settings": \(try read("settings.json"))}
                """.utf8
            ),
            authorization: try await self.bearer("drsmith")
        )
    }

    /// Submits `change` (JSON) as `user`; it must be accepted (201).
    func submit(_ change: String, by user: String) async throws -> ChangeRequest {
        let submitted = try await self.commands.submitChange(
            serial: Self.serial,
            idempotencyKey: UUID().uuidString,
            body: Data(change.utf8),
            authorization: try await self.bearer(user)
        )
        try #require(submitted.status == 201, "\(change) was not accepted: \(submitted.request.decision)")
        return submitted.request
    }

    /// alice asks for a bolus.
    func bolus(_ milliunits: Int) async throws -> ChangeRequest {
        try await self.submit("{\"kind\": \"bolus\", \"milliunits\": \(milliunits)}", by: "alice")
    }

    /// drsmith sets the therapy, the pump connects and sends telemetry every 50 ms, and alice
    /// asks for a 1 U bolus: the command goes out on this session.
    func bolusOnNewSession() async throws -> (session: PumpSession, bolus: ChangeRequest) {
        try await self.setTherapy()
        let session = self.session(telemetry: 1_000_000)
        try await self.connected(session)
        return (session, try await self.bolus(1_000))
    }

    /// The pump connects again (a new session, telemetry from 1000); returns the request
    /// `id` once its hello settled it.
    func reconnectAndSettle(_ id: ChangeRequestID) async throws -> (session: PumpSession, request: ChangeRequest) {
        let session = self.session(telemetry: 1_000_000, firstTelemetry: 1_000)
        try await self.connected(session)
        return (session, try await self.settled(id))
    }

    func request(_ id: ChangeRequestID) async throws -> ChangeRequest {
        try #require(try await self.commands.store.request(id))
    }

    /// Waits for request `id` to reach a final state.
    func settled(_ id: ChangeRequestID, within seconds: Int = 20) async throws -> ChangeRequest {
        try await self.until("request \(id) settles", within: seconds) {
            try await self.request(id).state.isTerminal
        }
        return try await self.request(id)
    }

    // MARK: The pump side

    /// Starts one session of the pump through the relay: hello, then `telemetry` messages
    /// `interval` ms apart (0: none; it stays, idle, until the link ends or it is cancelled).
    func session(
        telemetry: Int = 0,
        interval: Int64 = 50,
        firstTelemetry: UInt64 = 1,
        port: Int? = nil
    ) -> PumpSession {
        let pump = self.pump
        let port = port ?? self.port
        return PumpSession.start {
            try await pump.runSession(
                host: "127.0.0.1",
                port: port,
                telemetryCount: telemetry,
                intervalMilliseconds: interval,
                firstTelemetrySequence: firstTelemetry,
                group: MultiThreadedEventLoopGroup.singleton
            )
        }
    }

    /// Waits until the pump's `session` has said hello to the pipeline and the pipeline is idle
    /// (uncertain commands settled, nothing in flight); fails at once if the session ends.
    func connected(_ session: PumpSession) async throws {
        try await self.until("\(Self.serial) says hello to the pipeline") {
            if let ended = session.result { throw SessionEnded(result: ended) }
            let status = await self.commands.status(of: Self.serial)
            return status.connected && status.inFlightSequence == nil
        }
        await self.commands.waitUntilIdle(Self.serial)
    }

    /// Waits until the pipeline has seen the pump's session end.
    func disconnected() async throws {
        try await self.until("the pipeline sees \(Self.serial)'s session end") {
            await !self.commands.status(of: Self.serial).connected
        }
        await self.commands.waitUntilIdle(Self.serial)
    }

    /// Starts a new session of the pump and waits until it said hello. A session that ends
    /// before its hello because the relay lost its uplink meanwhile (the gateway dropped it) is
    /// started again once the relay has reconnected; any other end before the hello fails.
    func reconnect() async throws -> PumpSession {
        while true {
            let before = self.relay.counters.snapshot
            let session = self.session()
            do {
                try await self.connected(session)
                return session
            } catch let ended as SessionEnded {
                func lostUplink() -> Bool {
                    let now = self.relay.counters.snapshot
                    return now.uplinkLosses > before.uplinkLosses
                        || now.drops[.uplinkDown, default: 0] > before.drops[.uplinkDown, default: 0]
                        || now.drops[.streamRefused, default: 0] > before.drops[.streamRefused, default: 0]
                }
                do {
                    try await self.until("the relay loses its uplink", within: 2) { lostUplink() }
                } catch {
                    throw ended
                }
                try await self.until("the relay reconnects its uplink") {
                    let counters = self.relay.counters.snapshot
                    return counters.uplinkConnects > counters.uplinkLosses
                }
            }
        }
    }

    /// Waits for `session` to end; after `seconds` it is stopped and this fails.
    func ended(_ session: PumpSession, within seconds: Int = 20) async throws -> Result<PumpSessionReport, any Error> {
        do {
            try await self.until("the pump's session ends", within: seconds) { session.result != nil }
        } catch {
            await session.stop()
            throw error
        }
        return try #require(session.result)
    }

    /// What the pump's runtime holds. Read only while no session of the pump runs (the
    /// runtime belongs to the session's event loop).
    var pumpState: PumpState {
        get throws { try #require(self.pump.runtime).state }
    }

    /// Waits for the gateway's `tunnel_failed` event about the pump and checks that it names
    /// the phone and carries the gateway TLS engine's `code` and `text` in its detail.
    func expectTunnelFailed(
        _ code: GatewayTLSError.Code,
        saying text: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let registry = self.bed.gateway.registry
        func matching() -> SecurityEvent? {
            registry.events.first { $0.kind == "tunnel_failed" && $0.device == Self.serial }
        }
        try await self.until("a tunnel_failed event about \(Self.serial): \(registry.events)") { matching() != nil }
        let event = try #require(matching(), sourceLocation: sourceLocation)
        #expect(event.carrier == "phone PHONE-1", "\(event)", sourceLocation: sourceLocation)
        #expect(
            event.reason == "\(code)" && event.detail.hasPrefix("TLS \(code):") && event.detail.contains(text),
            "\(event)",
            sourceLocation: sourceLocation
        )
    }

    // MARK: The audit log

    func entries() async throws -> [AuditEntry] {
        try await self.commands.audit.entries(in: 0..<(try await self.commands.audit.storedSize()))
    }

    /// Request id → how many audit entries record it applied (`command.acknowledged` or
    /// `command.reconciled` entering `applied`).
    func auditedApplications() async throws -> [String: Int] {
        var applied: [String: Int] = [:]
        for entry in try await self.entries()
        where entry.event.kind == .commandAcknowledged || entry.event.kind == .commandReconciled {
            let payload = try JSONSerialization.jsonObject(with: Data(entry.event.payload)) as? [String: Any]
            if (payload?["states"] as? [String])?.contains("applied") == true, let id = payload?["requestId"] as? String
            {
                applied[id, default: 0] += 1
            }
        }
        return applied
    }

    /// The audit log's entries of `kind` about request `id`.
    func audited(_ kind: AuditKind, request id: ChangeRequestID) async throws -> Int {
        try await self.entries().filter { entry in
            guard entry.event.kind == kind,
                let payload = try? JSONSerialization.jsonObject(with: Data(entry.event.payload)) as? [String: Any]
            else { return false }
            return payload["requestId"] as? String == id.rawValue
        }.count
    }

    /// The pipeline's security events in the audit log, by name.
    /// The security events the command pipeline audited (not the sessions' TLS events, which
    /// the gateway's recorder writes with a `count`).
    func auditedSecurityEvents() async throws -> [String] {
        try await self.entries().filter { $0.event.kind == .securityEvent }.compactMap { entry in
            let payload = try JSONSerialization.jsonObject(with: Data(entry.event.payload)) as? [String: Any]
            guard payload?["count"] == nil else { return nil }
            return payload?["event"] as? String ?? "?"
        }
    }

    /// Checks the whole log with the verifier that trusts nothing (after a fresh checkpoint).
    func verifyAuditLog() async throws {
        let audit = self.commands.audit
        _ = try await audit.checkpoint()
        let report = try await LogVerifier.verify(
            store: audit.store,
            verifier: audit.signer.verifier,
            origin: audit.configuration.origin
        )
        #expect(report.size == (try await audit.storedSize()))
    }

    /// The audit log agrees with the pump: every request of the pump is final, each applied
    /// one is recorded applied exactly once, nothing else is recorded applied, the pump's last
    /// applied sequence is the highest applied request's, and the log verifies. Returns the
    /// number of applied requests.
    @discardableResult
    func expectAuditAgreesWithPump(sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int {
        let requests = try await self.commands.store.requests(forPump: Self.serial, limit: 1_000)
        let unfinished = requests.filter { !$0.state.isTerminal }
        #expect(unfinished.isEmpty, "requests not final: \(unfinished.map(\.state))", sourceLocation: sourceLocation)
        let applied = requests.filter { $0.state == .applied }
        let audited = try await self.auditedApplications()
        #expect(
            audited == Dictionary(uniqueKeysWithValues: applied.map { ($0.id.rawValue, 1) }),
            "audited applications \(audited) for \(applied.count) applied requests",
            sourceLocation: sourceLocation
        )
        let state = try self.pumpState
        #expect(
            state.lastAppliedSequence == applied.compactMap(\.sequence).max() ?? 0,
            "the pump's last applied sequence \(state.lastAppliedSequence); applied: \(applied.compactMap(\.sequence))",
            sourceLocation: sourceLocation
        )
        #expect(state.highWaterSequence <= requests.compactMap(\.sequence).max() ?? 0, sourceLocation: sourceLocation)
        try await self.verifyAuditLog()
        return applied.count
    }

    // MARK: Waiting

    /// Polls `condition` every 20 ms until it holds; throws after `seconds`.
    func until(_ what: String, within seconds: Int = 20, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        if try await condition() { return }
        throw PathTimeout(what: what, seconds: seconds)
    }
}

struct SessionEnded: Error, CustomStringConvertible {
    let result: Result<PumpSessionReport, any Error>
    var description: String { "the pump's session ended before it said hello: \(self.result)" }
}

struct PathTimeout: Error, CustomStringConvertible {
    let what: String
    let seconds: Int
    var description: String { "timed out after \(self.seconds) s waiting until \(self.what)" }
}

/// One session of the simulated pump, running in its own task.
final class PumpSession: Sendable {
    private let outcome = Mutex<Result<PumpSessionReport, any Error>?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    private init() {}

    static func start(_ run: @escaping @Sendable () async throws -> PumpSessionReport) -> PumpSession {
        let session = PumpSession()
        let task = Task {
            let result = await Result { try await run() }
            session.outcome.withLock { $0 = result }
        }
        session.task.withLock { $0 = task }
        return session
    }

    /// How the session ended; nil while it runs.
    var result: Result<PumpSessionReport, any Error>? { self.outcome.withLock { $0 } }

    /// Ends the session cleanly (close_notify) if it still runs, and waits for it.
    func stop() async {
        let task = self.task.withLock { $0 }
        task?.cancel()
        await task?.value
    }
}

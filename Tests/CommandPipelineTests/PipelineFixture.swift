import AccessTokens
import Accounts
import AuditLog
import ChangeRequests
import CommandAuthority
import CommandPipeline
import Foundation
import Lockouts
import Logging
import MedTunnelIdentity
import MedTunnelPKI
import MedTunnelTestSupport
import PumpRuntime
import SafetyPolicy
import Synchronization
import Testing
import TherapyJSON
import TherapyModel
import TunnelProtocol

/// A clock the test moves by hand: the gateway, the tokens and the pump all read it.
final class ManualClock: Sendable {
    private let value: Mutex<Timestamp>

    init(_ start: Timestamp) { self.value = Mutex(start) }

    func now() -> Timestamp { value.withLock { $0 } }

    func advance(minutes: Int64) {
        value.withLock { $0 = $0.advanced(byMinutes: minutes) }
    }

    func advance(milliseconds: Int64) {
        value.withLock { $0 = Timestamp(millisecondsSinceEpoch: $0.millisecondsSinceEpoch + milliseconds) }
    }
}

/// A throwaway PKI (CA, command key, two pumps) shared by the tests of one process.
struct SharedPKI: Sendable {
    static let serial = "PUMP-0001"
    static let otherSerial = "PUMP-0002"
    /// A small fleet, PUMP-0001 … PUMP-0012.
    static let fleet = (1...12).map { "PUMP-" + String(format: "%04d", $0) }
    static let shared: SharedPKI = try! SharedPKI()
    /// A pump whose certificate names its model (`pki sign-pump --model`).
    static let certifiedSerial = "PUMP-0100"
    static let certifiedModel = "Certified 0.05 U pump"

    /// The gateway folder (device certificates only).
    let directory: PKIDirectory
    /// The CA, the gateway folder and the pumps' own folders, where their keys are.
    let throwaway: ThrowawayPKI
    let signer: CommandSigner
    let commandPublicKeyPEM: String

    init() throws {
        // The fleet's certificates name no model (as a migrated PKI's), so lockouts by model match the
        // model each test pump says in its hello; `certifiedSerial`'s names `certifiedModel`.
        self.throwaway = try ThrowawayPKI(pumps: Self.fleet, model: nil, prefix: "pipeline-pki")
        try self.throwaway.enroll(.pump(serial: Self.certifiedSerial), model: Self.certifiedModel)
        let directory = self.throwaway.gateway
        self.directory = directory
        self.signer = try CommandSigner.load(from: directory)
        self.commandPublicKeyPEM = try directory.commandPublicKeyPEM()
    }

    /// An envelope for PUMP-0001 signed with the gateway's command key outside the pipeline
    /// (what only a gateway could have sent: the pump takes it).
    func signed(_ command: PumpCommand, sequence: UInt64, at time: Timestamp) throws -> SignedCommand {
        try signer.sign(
            try CommandEnvelope(
                serial: Self.serial,
                sequence: sequence,
                issuedAt: time,
                auditIndex: 0,
                command: command
            )
        )
    }

    func deviceKeyPEM(_ serial: String) throws -> String {
        try self.throwaway.keyPEM(.pump(serial: serial))
    }
}

/// A state directory with the real parts of the gateway's pipeline: audit log, accounts,
/// token issuer and authenticator, change-request store, command signer, pump certificates.
final class PipelineFixture: Sendable {
    static let start = Timestamp(millisecondsSinceEpoch: 1_790_000_000_000)
    static let serial = SharedPKI.serial
    static let model = PumpDefaults.simulatorModel
    static let factory = PumpDefaults.factorySettings(for: model)

    let directory: String
    let audit: AuditLog
    let accounts: AccountStore
    let store: ChangeRequestStore
    let issuer: TokenIssuer
    let authenticator: Authenticator
    let pipeline: CommandPipeline
    let lockouts: LockoutStore
    let clock: ManualClock
    /// The phones the pipeline asked the gateway to shut out, last told.
    let shutOut = ShutOutPhones()

    final class ShutOutPhones: Sendable {
        let phones = Mutex<Set<String>>([])
    }
    /// Security events as the pipeline reported them (after auditing them).
    let reported = Reported()

    final class Reported: Sendable {
        let events = Mutex<[PipelineSecurityEvent]>([])
    }

    private init(
        directory: String,
        audit: AuditLog,
        accounts: AccountStore,
        store: ChangeRequestStore,
        issuer: TokenIssuer,
        authenticator: Authenticator,
        lockouts: LockoutStore,
        clock: ManualClock,
        acknowledgementTimeoutMilliseconds: Int64,
        revokedPumps: Set<String>
    ) {
        self.lockouts = lockouts
        self.directory = directory
        self.audit = audit
        self.accounts = accounts
        self.store = store
        self.issuer = issuer
        self.authenticator = authenticator
        self.clock = clock
        let reported = self.reported
        var logger = Logger(label: "test.pipeline")
        logger.logLevel = .critical
        self.pipeline = CommandPipeline(
            store: store,
            audit: audit,
            authenticator: authenticator,
            signer: SharedPKI.shared.signer,
            pumpKeys: revokedPumps.isEmpty
                ? .pki(SharedPKI.shared.directory)
                : PumpKeys(
                    { serial in try PumpKeys.pki(SharedPKI.shared.directory).facts(for: serial) },
                    isRevoked: { revokedPumps.contains($0) }
                ),
            lockouts: lockouts,
            configuration: CommandPipeline.Configuration(
                sweepInterval: nil,
                acknowledgementTimeoutMilliseconds: acknowledgementTimeoutMilliseconds
            ),
            logger: logger,
            clock: { clock.now() }
        )
        self.pipeline.observeSecurityEvents { event in reported.events.withLock { $0.append(event) } }
    }

    /// Tells the fixture of the phones shut out (what the gateway would close).
    func watchPhoneLockouts() async {
        let shutOut = self.shutOut
        await pipeline.observeLockedOutPhones { locked in shutOut.phones.withLock { $0 = locked } }
    }

    /// A fresh state directory with the accounts of `seedAccounts`.
    /// `revokedPumps`: pumps the PKI revoked (the shared PKI's list is left alone).
    static func make(
        acknowledgementTimeoutMilliseconds: Int64 = 30_000,
        revokedPumps: Set<String> = []
    ) async throws -> PipelineFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")
            .path
        let fixture = try await open(
            directory: directory,
            clock: ManualClock(start),
            acknowledgementTimeoutMilliseconds: acknowledgementTimeoutMilliseconds,
            revokedPumps: revokedPumps
        )
        try await fixture.seedAccounts()
        return fixture
    }

    /// The same state directory opened again, as a restarted gateway would (the old instances
    /// are abandoned, as a killed process's would be).
    func restarted() async throws -> PipelineFixture {
        try await Self.open(
            directory: directory,
            clock: clock,
            acknowledgementTimeoutMilliseconds: 30_000,
            revokedPumps: []
        )
    }

    private static func open(
        directory: String,
        clock: ManualClock,
        acknowledgementTimeoutMilliseconds: Int64,
        revokedPumps: Set<String>
    ) async throws -> PipelineFixture {
        let audit = try await AuditLog.open(stateDirectory: directory)
        let accounts = try AccountStore.open(stateDirectory: directory)
        let key = try TokenSigningKey.load(stateDirectory: directory)
        return PipelineFixture(
            directory: directory,
            audit: audit,
            accounts: accounts,
            store: try ChangeRequestStore.open(stateDirectory: directory, audit: audit),
            issuer: try await TokenIssuer(key: key, accounts: accounts),
            authenticator: try await Authenticator(
                key: key,
                accounts: accounts,
                revocations: try TokenRevocationStore.open(stateDirectory: directory)
            ),
            lockouts: try LockoutStore(stateDirectory: directory, audit: audit),
            clock: clock,
            acknowledgementTimeoutMilliseconds: acknowledgementTimeoutMilliseconds,
            revokedPumps: revokedPumps
        )
    }

    /// alice: the patient of PUMP-0001; carol: her caregiver; drsmith and drjones: her
    /// clinicians; drwho: a clinician of another patient; olga: an operator.
    func seedAccounts() async throws {
        let admin = try AuditActor(id: "admin-1", role: "admin")
        let users: [(String, ActorRole, [String])] = [
            ("alice", .patient, ["patient=patient-001", "phone=PHONE-1"]),
            ("carol", .caregiver, ["patient=patient-001"]),
            ("drsmith", .clinician, ["patient=patient-001"]),
            ("drjones", .clinician, ["patient=patient-001"]),
            ("drwho", .clinician, ["patient=patient-999"]),
            ("olga", .operator, []),
            ("ines", .incident, []),
            ("ivan", .incident, []),
        ]
        for (id, role, attributes) in users {
            _ = try await accounts.add(
                id: id,
                role: role,
                attributes: try AccountAttributes(try attributes.map { try AccountAttribute(parsing: $0) }, for: role),
                by: admin,
                now: clock.now(),
                audit: audit
            )
        }
    }

    /// `Bearer <token>` for `user`, issued now.
    func bearer(_ user: String, ttl: String = "15m") async throws -> String {
        "Bearer " + (try await issuer.issue(to: user, lifetime: TokenLifetime(parsing: ttl), now: clock.now())).token
    }

    /// Runs `body` while the pipeline runs (its workers), then stops it.
    func running<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.pipeline.run() }
            do {
                let result = try await body()
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    // MARK: Therapy

    static let prescriptionJSON = """
        {"patientId": "patient-001", "maxBolusMilliunits": 10000, "maxBasalRateMilliunitsPerHour": 3000,
         "maxDailyTotalMilliunits": 60000, "carbRatioGramsPerUnit": {"min": 5, "max": 25},
         "sensitivityMgdLPerUnit": {"min": 20, "max": 150}, "correctionRangeMgdL": {"min": 90, "max": 150},
         "suspendThresholdMgdL": {"min": 70, "max": 90},
         "enabledControls": ["set_basal_schedule", "temp_basal", "bolus", "set_max_basal", "set_max_bolus",
           "set_carb_ratios", "set_sensitivities", "set_correction_range", "set_suspend_threshold", "suspend", "resume"]}
        """

    /// The body of `PUT /v1/pumps/{serial}/prescription`: the prescription above, the
    /// simulator's model and `settings` (the factory settings by default).
    static func therapyBody(settings: TherapySettings = factory, prescription: String = prescriptionJSON) -> Data {
        let model = String(decoding: TherapyJSON.encode(Self.model), as: UTF8.self)
        let settings = String(decoding: TherapyJSON.encode(settings), as: UTF8.self)
        return Data("{\"prescription\": \(prescription), \"model\": \(model), \"settings\": \(settings)}".utf8)
    }

    /// Binds `serial` to `patient` directly in the change store, audited as `pump.paired` like a
    /// real pairing but without a code (unit fixtures: the code path has its own tests, in
    /// PairingTests and, end to end through the relay, RelayTests' PairingPathTests). Does
    /// nothing for a pump that is paired already.
    @discardableResult
    func pair(
        serial: String = serial,
        patient: String = "patient-001",
        by user: String = "alice"
    ) async throws
        -> PumpBinding
    {
        if let binding = try await store.binding(for: serial) { return binding }
        return try await store.pair(
            serial: serial,
            patientID: patient,
            phoneID: nil,
            nonceHash: "fixture-\(serial)-\(UUID().uuidString)",
            by: ChangeActor(id: user, role: "patient"),
            now: clock.now()
        )
    }

    /// drsmith sets a pump's therapy (PUMP-0001's unless told), pairing it to alice's patient
    /// first (therapy is only for paired pumps).
    @discardableResult
    func setTherapy(settings: TherapySettings = factory, serial: String = serial) async throws -> PumpTherapy {
        try await pair(serial: serial)
        return try await pipeline.setTherapy(
            serial: serial,
            body: Self.therapyBody(settings: settings),
            authorization: try await bearer("drsmith")
        )
    }

    // MARK: Submissions

    static func bolus(_ milliunits: Int64) -> Data { Data("{\"kind\": \"bolus\", \"milliunits\": \(milliunits)}".utf8) }

    func submit(
        _ body: Data,
        by user: String = "alice",
        key: String = UUID().uuidString,
        serial: String = PipelineFixture.serial
    ) async throws -> CommandPipeline.SubmittedChange {
        try await pipeline.submitChange(
            serial: serial,
            idempotencyKey: key,
            body: body,
            authorization: try await bearer(user)
        )
    }

    /// Sets the therapy, connects `pump`, submits `body` and waits until the pump's worker is idle.
    func connectAndSubmit(_ body: Data, pump: TestPump) async throws -> CommandPipeline.SubmittedChange {
        try await setTherapy()
        pump.connect()
        let submitted = try await submit(body)
        await pipeline.waitUntilIdle(pump.serial)
        return submitted
    }

    func request(_ id: ChangeRequestID) async throws -> ChangeRequest {
        try #require(try await store.request(id))
    }

    // MARK: Audit

    func entries() async throws -> [AuditEntry] {
        try await audit.entries(in: 0..<(try await audit.storedSize()))
    }

    func entries(of kind: AuditKind) async throws -> [AuditEntry] {
        try await entries().filter { $0.event.kind == kind }
    }

    /// The security events in the audit log: `(event, reason)` from each payload.
    func auditedSecurityEvents() async throws -> [(event: String, reason: String)] {
        try await entries(of: .securityEvent).map { entry in
            let object = try JSONSerialization.jsonObject(with: Data(entry.event.payload)) as? [String: String] ?? [:]
            return (object["event"] ?? "", object["reason"] ?? "")
        }
    }

    /// Verifies the whole log with the verifier that trusts nothing, against the state
    /// directory's checkpoint key.
    func verifyAuditLog() async throws -> LogVerifier.Report {
        _ = try await audit.checkpoint()
        return try await LogVerifier.verify(
            store: audit.store,
            verifier: audit.signer.verifier,
            origin: audit.configuration.origin
        )
    }
}

/// A pump running the real `PumpRuntime` (mbedTLS verify and sign, fsync'd state file),
/// talking to the pipeline in process the way a gateway session would.
final class TestPump: Sendable {
    enum Behaviour: Sendable {
        /// Handle every command and acknowledge it at once.
        case answer
        /// Handle commands but keep the acknowledgements (the link drops them).
        case holdAcknowledgements
        /// Never see the commands (lost on the link).
        case swallowCommands
        /// Receive every command twice (a relay duplicating the frame); answer both.
        case duplicateCommands
        /// Receive commands only when `releaseDelayed()` is called (a relay holding them).
        case delayCommands
    }

    let serial: String
    let stateDirectory: String
    let firmware: String
    private let runtime: Mutex<PumpRuntime>
    private let pipeline: CommandPipeline
    private let clock: ManualClock
    let behaviour: Mutex<Behaviour>
    let link = Mutex<PumpLink?>(nil)
    let received = Mutex<[[UInt8]]>([])
    let held = Mutex<[SignedAcknowledgement]>([])
    let delayed = Mutex<[[UInt8]]>([])
    let closedByGateway = Mutex(0)

    init(
        serial: String = PipelineFixture.serial,
        stateDirectory: String? = nil,
        fixture: PipelineFixture,
        behaviour: Behaviour = .answer,
        model: PumpModel = PipelineFixture.model,
        firmware: String = "test-1"
    ) throws {
        self.firmware = firmware
        let directory =
            stateDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("pump-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.serial = serial
        self.stateDirectory = directory
        let configuration = PumpRuntime.Configuration(
            serial: serial,
            model: model,
            commandPublicKeyPEM: SharedPKI.shared.commandPublicKeyPEM,
            deviceKeyPEM: try SharedPKI.shared.deviceKeyPEM(serial),
            stateFilePath: PumpRuntime.stateFilePath(directory: directory, serial: serial)
        )
        self.runtime = Mutex(try PumpRuntime(configuration, factorySettings: PipelineFixture.factory))
        self.pipeline = fixture.pipeline
        self.clock = fixture.clock
        self.behaviour = Mutex(behaviour)
    }

    var state: PumpState { runtime.withLock { $0.state } }
    var settingsDigest: [UInt8] { runtime.withLock { $0.settingsDigest } }

    /// The pump makes a pairing code at `now` (its clock) with `nonce` and offers it on its
    /// current session, as a pump showing its QR code does; returns the code.
    func offerPairingCode(
        nonce: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255) },
        now: Timestamp? = nil,
        offer: Bool = true
    ) throws -> SignedPairingCode {
        let time = now ?? clock.now()
        let code = try runtime.withLock { try $0.pairingCode(nonce: nonce, now: time) }
        if offer, let link = link.withLock({ $0 }) {
            pipeline.pairingOffer(InnerMessage.PairingOffer(code.content), on: link)
        }
        return code
    }

    /// Says hello on a new session.
    @discardableResult
    func connect() -> PumpLink {
        let hello = runtime.withLock { [firmware] in try! $0.hello(firmware: firmware) }
        let link = pipeline.pumpConnected(
            serial: serial,
            hello: hello,
            channel: PumpSessionChannel(
                send: { [self] frame in self.receive(frame) },
                close: { [self] in self.closedByGateway.withLock { $0 += 1 } }
            )
        )
        self.link.withLock { $0 = link }
        sendTelemetry()
        return link
    }

    /// The CGM glucose the pump's telemetry reports (0: no reading).
    let glucose = Mutex<UInt16>(120)
    private let telemetrySequence = Mutex<UInt64>(0)

    /// One telemetry message on the current session: reservoir 150 U, `glucose`, the pump's mode.
    func sendTelemetry() {
        guard let link = link.withLock({ $0 }) else { return }
        let sequence = telemetrySequence.withLock { value -> UInt64 in
            value += 1
            return value
        }
        let suspended = state.mode.contains(.suspended)
        pipeline.telemetry(
            InnerMessage.Telemetry(
                sequence: sequence,
                timeMilliseconds: clock.now().millisecondsSinceEpoch,
                reservoirMilliunits: 150_000,
                basalRateMilliunitsPerHour: 850,
                glucoseMgPerDL: glucose.withLock { $0 },
                batteryPercent: 90,
                flags: suspended ? [.suspended] : []
            ),
            on: link
        )
    }

    /// Says hello and sends one telemetry message (not suspended, reservoir 150 U, glucose 120),
    /// then its link drops: the gateway knows a fresh state of a pump that is offline now.
    func seenThenOffline(_ fixture: PipelineFixture) async {
        connect()
        await fixture.pipeline.waitUntilIdle(serial)
        disconnect()
        await fixture.pipeline.waitUntilIdle(serial)
    }

    func disconnect() {
        if let link = link.withLock({ $0 }) { pipeline.pumpDisconnected(link) }
    }

    /// Hands the pipeline an acknowledgement as if it came over the current session.
    func deliver(_ acknowledgement: SignedAcknowledgement) {
        if let link = link.withLock({ $0 }) { pipeline.acknowledgement(acknowledgement, on: link) }
    }

    private func receive(_ frame: [UInt8]) {
        var decoder = InnerFrameDecoder()
        decoder.append(frame)
        guard case .command(let body)? = try? decoder.next() else {
            Issue.record("the gateway sent something other than one command frame")
            return
        }
        received.withLock { $0.append(body) }
        switch behaviour.withLock({ $0 }) {
        case .swallowCommands:
            return
        case .delayCommands:
            delayed.withLock { $0.append(body) }
        case .holdAcknowledgements:
            let acknowledgement = handle(body)
            held.withLock { $0.append(acknowledgement) }
        case .answer:
            deliver(handle(body))
        case .duplicateCommands:
            deliver(handle(body))
            deliver(handle(body))
        }
    }

    /// The held-back commands reach the pump now; their acknowledgements go back.
    func releaseDelayed() {
        for body in delayed.withLock({ commands in
            defer { commands = [] }
            return commands
        }) {
            deliver(handle(body))
        }
    }

    private func handle(_ body: [UInt8]) -> SignedAcknowledgement {
        let now = clock.now()
        return runtime.withLock { $0.handle(commandBody: body, now: now) }
    }

    /// The runtime answering `command` directly, as if a relay delivered it (not the pipeline).
    func answer(_ command: SignedCommand) -> SignedAcknowledgement {
        handle(command.encoded)
    }

    /// The commands received so far, decoded.
    var commands: [SignedCommand] {
        received.withLock { $0 }.compactMap { try? SignedCommand.decode($0[...]) }
    }
}

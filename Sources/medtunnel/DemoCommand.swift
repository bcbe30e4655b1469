import ArgumentParser
import AuditLog
import Foundation
import Gateway
import GatewayTLS
import Logging
import MedTunnelIdentity
import MedTunnelPKI
import NIOCore
import NIOPosix
import PumpRuntime
import PumpSimulator
import PumpTLS
import RelayCore
import RelayHostility
import Synchronization
import TherapyJSON

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "Run the MedTunnel story on loopback: PKI, gateway, phone relay, pumps, a hostile link, a revoked pump, signed commands and audit."
    )

    @Option(
        name: .customLong("state-dir"),
        help: "Keep the demo's PKI and state here (default: a temporary directory)."
    )
    var stateDir: String?

    @Flag(help: "Keep the web console (and the gateway behind it) running after the story, until Ctrl-C.")
    var keep = false

    @Option(
        name: .customLong("console-port"),
        help: "The console's port on 127.0.0.1 (default: a free one, printed)."
    )
    var consolePort = 0

    func run() async throws {
        let root = self.stateDir ?? (NSTemporaryDirectory() + "medtunnel-demo-\(getpid())")
        let story = DemoStory()
        do {
            try await self.tell(story, root: root)
            story.line("")
            story.line("The story succeeded.")
            if self.stateDir == nil { try? FileManager.default.removeItem(atPath: root) }
        } catch {
            story.line("")
            story.line("DEMO FAILED: \(error)")
            throw ExitCode(1)
        }
    }

    private func tell(_ story: DemoStory, root: String) async throws {
        var logger = Logger(label: "medtunnel.demo")
        logger.logLevel = .critical
        let layout = Self.layout(root: root)
        let pki = layout.gateway
        let serials = ["PUMP-0001", "PUMP-0002", "PUMP-0003"]
        // The demo is a gateway on ROOT/state: a second demo, or a gateway, on the same folder is
        // refused before this one clears its PKI (like two gateways on one --state-dir).
        try GatewayCommand.prepareStateDirectory(root + "/state")
        let stateLock = try GatewayCommand.lockStateDirectory(root + "/state", command: "medtunnel demo")
        defer { stateLock.release() }

        story.step("A throwaway PKI in \(root)/pki: the CA in pki/ca, the gateway's folder in pki/gateway")
        // A rerun in the same --state-dir starts from a new CA: devices enrolled with the old one go too.
        for folder in ["/pki", "/devices"] { try? FileManager.default.removeItem(atPath: root + folder) }
        try PKIOperations.initialize(layout, force: true)
        let model = try TherapyJSON.pumpModel(from: Data(DemoTherapy.model.utf8)).name
        for serial in serials { try Self.enroll(.pump(serial: serial), root: root, model: model) }
        for phone in ["PHONE-1", "PHONE-2", "PHONE-3"] { try Self.enroll(.phone(id: phone), root: root) }
        story.line(
            "the MedTunnel CA and a gateway certificate; each pump and phone made its key (ECDSA P-256) in its own "
                + "folder \(root)/devices/NAME and sent only a signing request; the pump certificates name the model"
        )

        story.step("The gateway terminates each pump's inner TLS (OpenSSL, TLS 1.2, ECDHE-ECDSA AEAD)")
        let group = MultiThreadedEventLoopGroup.singleton
        let gateway = try await GatewayServer.open(
            configuration: .init(pki: pki, stateDirectory: root + "/state", pumpListen: nil),
            logger: logger,
            group: group
        )
        stateLock.letWritersIn()
        let commands = try story.require(gateway.commands, "the gateway has no command pipeline")
        let pipeline = Task { await commands.run() }
        defer { pipeline.cancel() }
        let recorder = Task { await gateway.events?.run() }
        defer {
            gateway.events?.finish()
            recorder.cancel()
        }
        let relayListener = try await gateway.bindRelayListener(HostPort(host: "127.0.0.1", port: 0))
        defer { relayListener.close(promise: nil) }
        let gatewayPort = relayListener.localAddress?.port ?? 0
        story.line(
            "listening for phone relays on 127.0.0.1:\(gatewayPort) (outer TLS 1.3, the phone's own certificate)"
        )

        story.step("The patient's phone relays: one TLS 1.3 uplink, one HTTP/2 stream per pump, ciphertext only")
        let seen = RelaySight()
        let relayLoop = group.next()  // the relay's links and its hostility share one event loop
        // The phone is hostile too: it keeps a copy of what PUMP-0001 sends on its command
        // session (the 7th pump link it carries) and plays it to the gateway when the link ends.
        let hostile = HostileRelay(
            spec: try HostilitySpec(parsing: "replay,link=\(DemoCommand.commandLink)"),
            seed: 1,
            eventLoop: relayLoop,
            logger: logger
        )
        let phone1 = try Self.credentials(.phone(id: "PHONE-1"), pki: pki)
        let relay = PhoneRelay(
            configuration: .init(
                tls: try GatewayTLSContext(
                    .phoneClient(
                        trustRootsPEM: phone1.caCertificatePEM,
                        certificateChainPEM: phone1.certificatePEM,
                        privateKeyPEM: phone1.privateKeyPEM,
                        gatewayHost: "127.0.0.1"
                    )
                ),
                gatewayHost: "127.0.0.1",
                gatewayPort: gatewayPort,
                tap: { point, bytes in seen.record(point, bytes) },
                interposer: { link, openStream in try hostile.install(on: link, openStream: openStream) }
            ),
            eventLoop: relayLoop,
            logger: logger
        )
        let uplink = try await relay.connectUplink()
        defer { uplink.close(promise: nil) }
        let links = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        defer { links.channel.close(promise: nil) }
        let port = links.channel.localAddress?.port ?? 0
        story.line("PHONE-1 connected to the gateway; pumps reach the phone at \(links.address)")

        let pumps = try serials.map { serial in
            let credentials = try Self.credentials(.pump(serial: serial), pki: pki)
            return SimulatedPump(
                serial: serial,
                configuration: try PumpTLSConfiguration(
                    trustedCAPEM: credentials.caCertificatePEM,
                    certificatePEM: credentials.certificatePEM,
                    privateKeyPEM: credentials.privateKeyPEM
                ),
                serverName: "localhost"
            )
        }
        for pump in pumps { pump.runtime = try Self.runtime(serial: pump.serial, pki: pki, root: root) }

        story.step("Three pumps connect (mbedTLS, the pump firmware profile) and send telemetry")
        try await withThrowingTaskGroup(of: PumpSessionReport.self) { tasks in
            for pump in pumps {
                tasks.addTask {
                    try await pump.runSession(
                        host: "127.0.0.1",
                        port: port,
                        telemetryCount: 3,
                        intervalMilliseconds: 20,
                        firstTelemetrySequence: 1,
                        group: group
                    )
                }
            }
            for try await report in tasks {
                story.line(
                    "\(report.serial): \(report.resumed ? "resumed" : "full") handshake, \(report.cipherSuite ?? "?"), "
                        + "\(report.telemetryAcknowledged) telemetry stored; on the link: \(report.bytesSent) B up, "
                        + "\(report.bytesReceived) B down, TLS records only"
                )
            }
        }
        for serial in serials {
            let status = try story.require(gateway.registry.pump(serial), "the gateway does not know \(serial)")
            try story.expect(
                status.telemetryStored == 3,
                "\(serial) has \(status.telemetryStored) telemetry stored, not 3"
            )
        }
        story.line("the gateway's registry: \(serials.count) pumps, 3 telemetry each, stored once per sequence number")
        let carriers = Set(serials.compactMap { gateway.registry.pump($0)?.carrier })
        try story.expect(carriers == ["phone PHONE-1"], "the pumps were not carried by PHONE-1: \(carriers)")
        story.line("each pump's session is bound to its serial (from its certificate) and to phone PHONE-1")
        let sight = seen.snapshot()
        try story.expect(sight.fromPump > 0, "the relay's tap saw no bytes")
        try story.expect(!sight.sawPlaintext, "the relay saw inner plaintext")
        story.line(
            "what the phone saw: \(sight.fromPump) B from pumps, \(sight.toPump) B to pumps, "
                + "\(sight.uplinkOut) B up the uplink; searched for the pumps' firmware name (sent inside the tunnel in every hello): not found"
        )

        story.step("PUMP-0001's link drops; it reconnects and resumes its TLS session")
        let resumed = try await pumps[0].runSession(
            host: "127.0.0.1",
            port: port,
            telemetryCount: 1,
            intervalMilliseconds: 0,
            firstTelemetrySequence: 4,
            group: group
        )
        try story.expect(resumed.resumed, "PUMP-0001 did not resume its session")
        try story.expect(
            (gateway.registry.pump("PUMP-0001")?.resumedSessions ?? 0) >= 1,
            "the gateway did not confirm the resumption"
        )
        story.line(
            "resumed in \(String(format: "%.2f", Double(resumed.handshakeNanoseconds) / 1e6)) ms, "
                + "\(resumed.bytesSent) B up; the gateway confirms the session was reused"
        )

        story.step("A hostile link flips one bit in PUMP-0002's first record after the handshake")
        let before = gateway.registry.pump("PUMP-0002")?.telemetryStored ?? 0
        pumps[1].forgetSession()
        do {
            _ = try await pumps[1].runSession(
                host: "127.0.0.1",
                port: port,
                telemetryCount: 1,
                intervalMilliseconds: 0,
                firstTelemetrySequence: 10,
                tamperWithWrite: 3,  // ClientHello, client flight, then the first application record
                group: group
            )
            throw DemoFailure("the tampered session was accepted")
        } catch let error as PumpTLSError where error.code == .peerAlert {
            story.line("the gateway refused the record and ended the session with a fatal alert (bad_record_mac)")
        } catch let error as PumpTLSError where error.code == .truncated {
            story.line("the gateway refused the record and ended the session; the pump saw its link close")
        } catch is PumpLinkClosed {
            story.line("the gateway refused the record and ended the session; the pump saw the link close")
        }
        try await story.eventually(
            gateway.registry.events.contains { $0.device == "PUMP-0002" && $0.detail.contains("recordRejected") },
            "no security event names the tampered record"
        )
        try story.expect(
            gateway.registry.pump("PUMP-0002")?.telemetryStored == before,
            "something from the tampered session was stored"
        )
        story.line("security event recorded for PUMP-0002 (recordRejected); nothing from the record was stored")

        story.step("Incident staff revoke PUMP-0003; its next connection, a session resumption, is refused")
        let incident = try AuditActor(id: "incident-demo", role: "incident")
        _ = try await RevocationList.revoke(.pump(serial: "PUMP-0003"), reason: "demo: reported stolen", in: pki) {
            change in
            _ = try await commands.audit.append(try change.auditEvent(by: incident))
        }
        story.line("revocation audited (pki.revoked) before revoked.txt changed")
        do {
            _ = try await pumps[2].runSession(
                host: "127.0.0.1",
                port: port,
                telemetryCount: 1,
                intervalMilliseconds: 0,
                firstTelemetrySequence: 20,
                group: group
            )
            throw DemoFailure("the revoked pump was accepted")
        } catch let error as PumpTLSError {
            story.line("PUMP-0003 got no session (the pump saw: \(error.code))")
        }
        try await story.eventually(
            gateway.registry.events.contains { $0.detail.contains("certificateRevoked") },
            "no security event for the revoked pump"
        )
        story.line("security event recorded: certificateRevoked")

        let log = commands.audit
        let entriesBefore = try await log.checkpoint().checkpoint.size
        let tokens = try await self.tellCommands(
            story,
            gateway: gateway,
            commands: commands,
            pump: pumps[0],
            relay: (port: port, hostile: hostile),
            root: root
        )
        try await self.tellReadAccess(story, gateway: gateway, commands: commands, tokens: tokens, logger: logger)
        try await self.tellClinicalState(
            story,
            commands: commands,
            pump: pumps[0],
            phone1Port: port,
            tokens: tokens
        )
        try await self.tellLockouts(
            story,
            gateway: gateway,
            commands: commands,
            pump: pumps[0],
            phone1Port: port,
            gatewayPort: gatewayPort,
            tokens: tokens,
            pki: pki,
            logger: logger
        )
        story.step("The audit log verifies: every leaf and the root recomputed, the checkpoint signature checked")
        let checkpoint = try await log.checkpoint()
        let report = try await LogVerifier.verify(
            store: log.store,
            verifier: log.signer.verifier,
            origin: log.configuration.origin
        )
        try story.expect(report.size == checkpoint.checkpoint.size, "the verified size differs from the checkpoint")
        story.line(
            "\(report.size) entries (\(report.size - entriesBefore) from the accounts, therapy, changes, lockouts, security events and alerts above), root \(report.rootHash.prefix(8).map { String(format: "%02x", $0) }.joined())…, "
                + "signed checkpoint (ECDSA P-256) verified"
        )
        try await self.tellConsole(story, gateway: gateway, commands: commands, root: root, logger: logger)
    }
}

/// Prints the demo's numbered story.
/// What the relay's byte tap saw: counts per direction, and whether any inner plaintext the
/// demo pumps send (their firmware name in the hello) ever passed through the phone.
final class RelaySight: Sendable {
    struct Snapshot: Sendable {
        var fromPump = 0
        var toPump = 0
        var uplinkOut = 0
        var sawPlaintext = false
    }
    private let state = Locked(Snapshot())
    private static let marker = Array("medtunnel-sim-1".utf8)

    func record(_ point: RelayTapPoint, _ bytes: ByteBufferView) {
        let chunk = Array(bytes)
        let clear =
            chunk.count >= Self.marker.count
            && (0...(chunk.count - Self.marker.count)).contains {
                chunk[$0..<($0 + Self.marker.count)].elementsEqual(Self.marker)
            }
        self.state.withLock { snapshot in
            switch point {
            case .fromPump: snapshot.fromPump += chunk.count
            case .toPump: snapshot.toPump += chunk.count
            case .uplinkOut: snapshot.uplinkOut += chunk.count
            case .uplinkIn: break
            }
            if clear { snapshot.sawPlaintext = true }
        }
    }

    func snapshot() -> Snapshot { self.state.withLock { $0 } }
}

final class DemoStory: Sendable {
    private let counter = Locked(0)

    func step(_ title: String) {
        let n = self.counter.withLock { value -> Int in
            value += 1
            return value
        }
        print("\n\(n). \(title)")
    }

    func line(_ text: String) {
        print(text.isEmpty ? "" : "   \(text)")
    }

    func expect(_ condition: Bool, _ failure: @autoclosure () -> String) throws {
        if !condition { throw DemoFailure(failure()) }
    }

    /// The gateway records what it refused a moment after the peer hears about it: wait up
    /// to `seconds` (two by default) for `condition`.
    func eventually(
        _ condition: @autoclosure () async throws -> Bool,
        _ failure: @autoclosure () -> String,
        seconds: Int = 2
    ) async throws {
        for _ in 0..<(seconds * 100) {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw DemoFailure(failure())
    }

    func require<T>(_ value: T?, _ failure: @autoclosure () -> String) throws -> T {
        guard let value else { throw DemoFailure(failure()) }
        return value
    }
}

struct DemoFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { self.mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { self.mutex.withLock { body(&$0) } }
}

import AnomalyRules
import Foundation
import Gateway
import GatewayTLS
import Logging
import MedTunnelIdentity
import MedTunnelPKI
import MedTunnelTestSupport
import NIOCore
import NIOPosix
import PumpSimulator
import PumpTLS
import RelayCore
import RelayHostility
import Synchronization
import Testing
import TherapyModel

/// A gateway with a relay listener, in this process, over loopback, on a throwaway PKI.
final class RelayTestBed: Sendable {
    let directory: URL
    let pki: PKIDirectory
    /// The CA, the gateway folder (`pki`) and the devices' own folders, where their keys are.
    let throwaway: ThrowawayPKI
    let gateway: GatewayServer
    let relayListener: any Channel
    let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    static let quiet = Logger(label: "relay-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    /// `commandClock`: open the gateway with its command pipeline (`GatewayServer.open`), on
    /// that clock; nil: a gateway without one. `pumpModel`: the model the pumps' certificates name.
    init(
        pumps: [String] = ["PUMP-0001", "PUMP-0002", "PUMP-0003"],
        phones: [String] = ["PHONE-1"],
        pumpModel: String? = ThrowawayPKI.defaultModel,
        commandClock: (@Sendable () -> Timestamp)? = nil,
        rules: RuleSet = RuleSet(rules: [])
    ) async throws {
        self.throwaway = try ThrowawayPKI(
            pumps: pumps,
            phones: phones,
            model: pumpModel,
            prefix: "medtunnel-relay-test"
        )
        self.directory = self.throwaway.root
        self.pki = self.throwaway.gateway
        // No anomaly rules unless a test asks: many tests cut and tamper on purpose, and the
        // built-in rules would lock their phone out.
        var configuration = GatewayServer.Configuration(
            pki: self.pki,
            stateDirectory: self.directory.appendingPathComponent("state").path,
            pumpListen: nil
        )
        configuration.rules = rules
        if let commandClock {
            self.gateway = try await GatewayServer.open(
                configuration: configuration,
                logger: Self.quiet,
                group: MultiThreadedEventLoopGroup.singleton,
                commandClock: commandClock
            )
        } else {
            self.gateway = try GatewayServer(
                configuration: configuration,
                logger: Self.quiet,
                group: MultiThreadedEventLoopGroup.singleton
            )
        }
        self.relayListener = try await self.gateway.bindRelayListener(HostPort(host: "127.0.0.1", port: 0))
    }

    var relayPort: Int { self.relayListener.localAddress?.port ?? 0 }

    func read(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    /// A phone relay presenting `identity`'s certificate (a pump's, for the hostile case).
    func relay(
        as identity: DeviceIdentity = .phone(id: "PHONE-1"),
        tap: RelayByteTap? = nil,
        gatewayPort: Int? = nil,
        eventLoop: (any EventLoop)? = nil,
        interposer: PumpLinkInterposer? = nil
    ) throws -> PhoneRelay {
        let tls = try GatewayTLSContext(
            .phoneClient(
                trustRootsPEM: try self.read(self.pki.caCertificate),
                certificateChainPEM: try self.throwaway.certificatePEM(identity),
                privateKeyPEM: try self.throwaway.keyPEM(identity),
                gatewayHost: "localhost"
            )
        )
        return PhoneRelay(
            configuration: .init(
                tls: tls,
                gatewayHost: "127.0.0.1",
                gatewayPort: gatewayPort ?? self.relayPort,
                tap: tap,
                interposer: interposer
            ),
            eventLoop: eventLoop ?? self.group.next(),
            logger: Self.quiet
        )
    }

    /// A phone relay that tampers with its links as `spec` says (``HostileRelay``).
    func hostileRelay(
        _ spec: String,
        seed: UInt64 = 1,
        tap: RelayByteTap? = nil
    ) throws -> (relay: PhoneRelay, hostile: HostileRelay) {
        let eventLoop = self.group.next()
        let hostile = HostileRelay(
            spec: try HostilitySpec(parsing: spec),
            seed: seed,
            eventLoop: eventLoop,
            logger: Self.quiet
        )
        let relay = try self.relay(tap: tap, eventLoop: eventLoop) { link, openStream in
            try hostile.install(on: link, openStream: openStream)
        }
        return (relay, hostile)
    }

    /// `relay` with its uplink to this gateway and a pump listener on a free loopback port.
    func running(_ relay: PhoneRelay) async throws -> RunningRelay {
        let uplink = try await relay.connectUplink()
        let listening = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        let port = try #require(listening.channel.localAddress?.port)
        return RunningRelay(relay: relay, uplink: uplink, listener: listening.channel, port: port)
    }

    func pump(_ serial: String, activity: PumpActivity? = nil) throws -> SimulatedPump {
        let identity = DeviceIdentity.pump(serial: serial)
        let configuration = try PumpTLSConfiguration(
            trustedCAPEM: try self.read(self.pki.caCertificate),
            certificatePEM: try self.throwaway.certificatePEM(identity),
            privateKeyPEM: try self.throwaway.keyPEM(identity)
        )
        return SimulatedPump(serial: serial, configuration: configuration, serverName: "localhost", activity: activity)
    }

    /// Runs one session of each pump at once through `port`; `tampered` flips a bit in its
    /// pump's third write (ClientHello, client flight, then the first application record).
    func runPumps(
        _ serials: [String],
        port: Int,
        telemetry: Int = 3,
        tampered: String? = nil
    ) async throws -> [String: Result<PumpSessionReport, any Error>] {
        try await withThrowingTaskGroup(of: (String, Result<PumpSessionReport, any Error>).self) { group in
            for serial in serials {
                let pump = try self.pump(serial)
                group.addTask {
                    let result = await Result(catching: {
                        try await pump.runSession(
                            host: "127.0.0.1",
                            port: port,
                            telemetryCount: telemetry,
                            intervalMilliseconds: 10,
                            firstTelemetrySequence: 1,
                            tamperWithWrite: serial == tampered ? 3 : nil,
                            group: MultiThreadedEventLoopGroup.singleton
                        )
                    })
                    return (serial, result)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
    }

    /// Waits (polling, bounded) until `condition` holds; returns whether it did. The bound is
    /// generous (every suite runs at once on 2 cores in CI); it returns as soon as it holds.
    func eventually(within seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    func shutdown() async {
        try? await self.relayListener.close()
        try? FileManager.default.removeItem(at: self.directory)
    }
}

/// A phone relay connected to the test bed's gateway, taking pump links on `port`.
struct RunningRelay {
    let relay: PhoneRelay
    let uplink: any Channel
    let listener: any Channel
    let port: Int

    var counters: RelayCounters { self.relay.counters }

    func stop() async {
        try? await self.listener.close()
        try? await self.uplink.close()
    }
}

/// Records every byte a relay handles, by tap point.
final class ByteRecorder: Sendable {
    private let bytes = Mutex<[RelayTapPoint: [UInt8]]>([:])

    func reset() { self.bytes.withLock { $0 = [:] } }

    var tap: RelayByteTap {
        { point, view in self.bytes.withLock { $0[point, default: []].append(contentsOf: view) } }
    }

    func recorded(_ point: RelayTapPoint) -> [UInt8] { self.bytes.withLock { $0[point] ?? [] } }
    var all: [UInt8] { self.bytes.withLock { $0.values.reduce([], +) } }
}

extension Array where Element == UInt8 {
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= self.count else { return needle.isEmpty }
        return (0...(self.count - needle.count)).contains { start in
            self[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

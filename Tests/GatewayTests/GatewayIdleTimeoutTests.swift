import Foundation
import Gateway
import GatewayTLS
import Logging
import MedTunnelIdentity
import MedTunnelPKI
import MedTunnelTestSupport
import MetricsTestKit
import NIOCore
import NIOPosix
import PumpSimulator
import PumpTLS
import RelayCore
import Testing

/// A gateway in this process on a throwaway PKI, with its own configuration and metrics.
final class GatewayTestBed: Sendable {
    let directory: URL
    let pki: PKIDirectory
    /// The CA, the gateway folder (`pki`) and the devices' own folders, where their keys are.
    let throwaway: ThrowawayPKI
    let gateway: GatewayServer
    let metrics = TestMetrics()
    static let quiet = Logger(label: "gateway-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    init(
        pumps: [String] = ["PUMP-0001", "PUMP-0002"],
        phones: [String] = ["PHONE-1"],
        configure: (inout GatewayServer.Configuration) -> Void = { _ in }
    ) throws {
        self.throwaway = try ThrowawayPKI(pumps: pumps, phones: phones, prefix: "medtunnel-gateway-test")
        self.directory = self.throwaway.root
        self.pki = self.throwaway.gateway
        var configuration = GatewayServer.Configuration(
            pki: self.pki,
            stateDirectory: self.directory.appendingPathComponent("state").path,
            pumpListen: nil
        )
        configuration.metrics = GatewayMetrics(factory: self.metrics)
        configure(&configuration)
        self.gateway = try GatewayServer(
            configuration: configuration,
            logger: Self.quiet,
            group: MultiThreadedEventLoopGroup.singleton
        )
    }

    func read(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    func pump(_ serial: String) throws -> SimulatedPump {
        let identity = DeviceIdentity.pump(serial: serial)
        return SimulatedPump(
            serial: serial,
            configuration: try PumpTLSConfiguration(
                trustedCAPEM: try self.read(self.pki.caCertificate),
                certificatePEM: try self.throwaway.certificatePEM(identity),
                privateKeyPEM: try self.throwaway.keyPEM(identity)
            ),
            serverName: "localhost"
        )
    }

    func relay(_ phone: String, port: Int) throws -> PhoneRelay {
        let identity = DeviceIdentity.phone(id: phone)
        let tls = try GatewayTLSContext(
            .phoneClient(
                trustRootsPEM: try self.read(self.pki.caCertificate),
                certificateChainPEM: try self.throwaway.certificatePEM(identity),
                privateKeyPEM: try self.throwaway.keyPEM(identity),
                gatewayHost: "localhost"
            )
        )
        return PhoneRelay(
            configuration: .init(tls: tls, gatewayHost: "127.0.0.1", gatewayPort: port),
            eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
            logger: Self.quiet
        )
    }

    func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Int64 {
        (try? self.metrics.expectCounter(label, dimensions).totalValue) ?? 0
    }

    func shutdown() async {
        await self.gateway.shutdown()
        try? FileManager.default.removeItem(at: self.directory)
    }
}

@Suite("Gateway: idle sessions and uplinks are closed")
struct GatewayIdleTimeoutTests {
    @Test(
        "a pump silent longer than the idle timeout (1 s) is closed with close_notify and counted; a talking pump is not"
    )
    func idlePumpSession() async throws {
        let bed = try GatewayTestBed { $0.pumpIdleTimeout = .seconds(1) }
        let listener = try await bed.gateway.bindPumpListener(HostPort(host: "127.0.0.1", port: 0))
        let port = try #require(listener.localAddress?.port)
        let group = MultiThreadedEventLoopGroup.singleton
        let silent = try bed.pump("PUMP-0001")
        let talking = try bed.pump("PUMP-0002")
        let started = ContinuousClock.now
        // Silent: one message, then a minute of nothing before the second.
        async let silentResult = Result(catching: {
            try await silent.runSession(
                host: "127.0.0.1",
                port: port,
                telemetryCount: 2,
                intervalMilliseconds: 60_000,
                firstTelemetrySequence: 1,
                group: group
            )
        })
        // Talking: a message every 300 ms for about 2.4 s.
        async let talkingResult = Result(catching: {
            try await talking.runSession(
                host: "127.0.0.1",
                port: port,
                telemetryCount: 8,
                intervalMilliseconds: 300,
                firstTelemetrySequence: 1,
                group: group
            )
        })
        let ended = await silentResult
        let waited = ContinuousClock.now - started
        guard case .failure(let error) = ended else {
            Issue.record("the silent session was not closed: \(ended)")
            return
        }
        #expect(error is PumpLinkClosed, "\(error)")
        // Not before the timeout; the upper bound is loose for a loaded machine (the counter
        // below tells that it was the idle timeout, not the pump's next message).
        #expect(waited >= .milliseconds(900) && waited < .seconds(45), "closed after \(waited)")
        #expect(bed.gateway.registry.pump("PUMP-0001")?.telemetryStored == 1)
        let report = try await talkingResult.get()
        #expect(report.telemetryAcknowledged == 8)
        #expect(bed.counter(GatewayMetrics.sessionsClosed, [("reason", "idle")]) == 1)
        try? await listener.close()
        await bed.shutdown()
    }

    @Test("a phone uplink with no pump streams and no traffic is closed after the uplink idle timeout and counted")
    func idleUplink() async throws {
        let bed = try GatewayTestBed { $0.uplinkIdleTimeout = .seconds(1) }
        let listener = try await bed.gateway.bindRelayListener(HostPort(host: "127.0.0.1", port: 0))
        let relay = try bed.relay("PHONE-1", port: try #require(listener.localAddress?.port))
        let started = ContinuousClock.now
        let uplink = try await relay.connectUplink()
        try await uplink.closeFuture.get()
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(900) && waited < .seconds(45), "closed after \(waited)")
        #expect(bed.gateway.phones.phone("PHONE-1")?.uplinksTotal == 1)
        #expect(bed.counter(GatewayMetrics.uplinksClosed, [("reason", "idle")]) == 1)
        var disconnected = false
        for _ in 0..<100 where !disconnected {
            disconnected = bed.gateway.phones.phone("PHONE-1")?.connected == false
            if !disconnected { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(disconnected)
        try? await listener.close()
        await bed.shutdown()
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

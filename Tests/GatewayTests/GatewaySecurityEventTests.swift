import Gateway
import MedTunnelPKI
import NIOCore
import NIOPosix
import PumpSimulator
import RelayCore
import Testing

@Suite("Gateway: refused handshakes are security events with their reason and the phone that carried them")
struct GatewaySecurityEventTests {
    @Test(
        "a revoked pump through a phone: handshake_failed, reason certificateRevoked, the pump and the phone named, counted by reason"
    )
    func revokedPumpThroughPhone() async throws {
        let bed = try GatewayTestBed(pumps: ["PUMP-0001"])
        let listener = try await bed.gateway.bindRelayListener(HostPort(host: "127.0.0.1", port: 0))
        let relay = try bed.relay("PHONE-1", port: try #require(listener.localAddress?.port))
        let uplink = try await relay.connectUplink()
        let links = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        _ = try await RevocationList.revoke(.pump(serial: "PUMP-0001"), reason: "stolen", in: bed.pki) { _ in }

        let pump = try bed.pump("PUMP-0001")
        let result = await Result(catching: {
            try await pump.runSession(
                host: "127.0.0.1",
                port: try #require(links.channel.localAddress?.port),
                telemetryCount: 1,
                intervalMilliseconds: 0,
                firstTelemetrySequence: 1,
                group: MultiThreadedEventLoopGroup.singleton
            )
        })
        guard case .failure = result else {
            Issue.record("a revoked pump completed a session")
            return
        }
        var event: SecurityEvent?
        for _ in 0..<250 where event == nil {
            event = bed.gateway.registry.events.first { $0.kind == "handshake_failed" }
            if event == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let refused = try #require(event)
        #expect(refused.reason == "certificateRevoked")
        #expect(refused.device == "PUMP-0001")
        #expect(refused.carrier == "phone PHONE-1")
        #expect(refused.phone == "PHONE-1")
        #expect(bed.gateway.registry.pump("PUMP-0001") == nil, "a refused pump was registered")
        let failures = bed.counter(
            GatewayMetrics.handshakeFailures,
            [("reason", "certificateRevoked"), ("peer", "pump")]
        )
        #expect(failures == 1)
        #expect(bed.counter(GatewayMetrics.securityEvents, [("kind", "handshake_failed")]) == 1)

        try? await links.channel.close()
        try? await uplink.close()
        try? await listener.close()
        await bed.shutdown()
    }
}

import Gateway
import GatewayTLS
import NIOCore
import NIOPosix
import PumpSimulator
import RelayCore
import RelayHostility
import Testing

/// A gateway, a hostile phone relay in front of it, and two bystander pumps that hold long
/// sessions through the same relay (links 1 and 2) while the test tampers with the next
/// link(s). Afterwards it checks that the bystanders kept working: their telemetry kept
/// arriving after the tampering, their sessions ended cleanly and no event names them.
struct HostileScenario {
    static let bystanders = ["PUMP-0003", "PUMP-0004"]
    static let phone = "phone PHONE-1"

    let bed: RelayTestBed
    let relay: PhoneRelay
    let hostile: HostileRelay
    let port: Int
    var registry: PumpRegistry { self.bed.gateway.registry }

    static func run(
        _ spec: String,
        seed: UInt64 = 1,
        bystanders: [String] = Self.bystanders,
        _ body: @Sendable (HostileScenario) async throws -> Void
    ) async throws {
        let bed = try await RelayTestBed(pumps: ["PUMP-0001", "PUMP-0002", "PUMP-0003", "PUMP-0004"])
        let (relay, hostile) = try bed.hostileRelay(spec, seed: seed)
        let uplink = try await relay.connectUplink()
        let listening = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        let scenario = HostileScenario(
            bed: bed,
            relay: relay,
            hostile: hostile,
            port: try #require(listening.channel.localAddress?.port)
        )
        do {
            try await scenario.withBystanders(bystanders) { try await body(scenario) }
        } catch {
            // What the gateway and the hostile relay saw, to tell who ended a session early.
            Issue.record(
                "\(error); events: \(scenario.registry.events); pumps: \(scenario.registry.pumps); hostile: \(scenario.hostile.counters.snapshot); relay: \(scenario.relay.counters.snapshot)"
            )
        }
        try? await listening.channel.close()
        try? await uplink.close()
        await bed.shutdown()
    }

    /// One session of `serial` through the hostile relay. The pump sends a message again
    /// when the gateway does not answer within 1.5 s, as a real pump would after a loss.
    func session(
        _ serial: String,
        telemetry: Int = 3,
        interval: Int64 = 10,
        firstSequence: UInt64 = 1,
        pump: SimulatedPump? = nil
    ) async -> Result<PumpSessionReport, any Error> {
        await Result {
            try await (pump ?? self.bed.pump(serial)).runSession(
                host: "127.0.0.1",
                port: self.port,
                telemetryCount: telemetry,
                intervalMilliseconds: interval,
                firstTelemetrySequence: firstSequence,
                responseTimeoutMilliseconds: 1_500,
                group: MultiThreadedEventLoopGroup.singleton
            )
        }
    }

    /// Waits for a security event about `device` of `kind`, and checks that it names the
    /// phone and carries the gateway TLS engine's `code` (or `other`).
    @discardableResult
    func expectEvent(
        device: String?,
        kind: String,
        code: GatewayTLSError.Code,
        or other: GatewayTLSError.Code? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> SecurityEvent? {
        let registry = self.registry
        _ = await self.bed.eventually(within: 30) {
            registry.events.contains { $0.device == device && $0.kind == kind }
        }
        let event = registry.events.first { $0.device == device && $0.kind == kind }
        #expect(
            event != nil,
            "no \(kind) event for \(device ?? "nil"): \(registry.events)",
            sourceLocation: sourceLocation
        )
        #expect(event?.carrier == Self.phone, "\(String(describing: event))", sourceLocation: sourceLocation)
        let codes = [code] + (other.map { [$0] } ?? [])
        #expect(
            codes.contains { event?.detail.hasPrefix("TLS \($0):") == true },
            "expected \(codes): \(String(describing: event))",
            sourceLocation: sourceLocation
        )
        return event
    }

    /// Runs `body` while the bystanders hold sessions (established before it starts, so they
    /// are links 1…n), then checks they kept working after it.
    private func withBystanders(_ serials: [String], _ body: () async throws -> Void) async throws {
        let registry = self.registry
        let bed = self.bed
        let port = self.port
        try await withThrowingTaskGroup(of: (String, Result<PumpSessionReport, any Error>).self) { group in
            for serial in serials {
                let pump = try bed.pump(serial)
                group.addTask {
                    let result = await Result {
                        try await pump.runSession(
                            host: "127.0.0.1",
                            port: port,
                            telemetryCount: 1_000_000,
                            intervalMilliseconds: 20,
                            firstTelemetrySequence: 1,
                            group: MultiThreadedEventLoopGroup.singleton
                        )
                    }
                    return (serial, result)
                }
            }
            let started = await bed.eventually(within: 30) {
                serials.allSatisfy { (registry.pump($0)?.telemetryStored ?? 0) >= 1 }
            }
            try #require(started, "the bystanders did not start: \(registry.pumps)")
            #expect(try await self.hostile.linksInstalled == serials.count)

            try await body()

            let before = serials.map { registry.pump($0)?.telemetryStored ?? 0 }
            let kept = await bed.eventually(within: 30) {
                zip(serials, before).allSatisfy { (registry.pump($0)?.telemetryStored ?? 0) >= $1 + 5 }
            }
            #expect(kept, "the other pumps on the relay stopped: \(registry.pumps)")
            group.cancelAll()
            for try await (serial, result) in group {
                switch result {
                case .success(let report):
                    // At least 6 stored, and a pump sends its next telemetry only after the
                    // previous one's acknowledgement: at least 5 acknowledged (the 6th may
                    // still be on its way when the session is stopped).
                    #expect(report.telemetryAcknowledged >= 5, "\(serial): \(report)")
                case .failure(let error):
                    Issue.record("bystander \(serial) failed: \(error)")
                }
            }
            #expect(
                !registry.events.contains { serials.contains($0.device ?? "") },
                "an event names a bystander: \(registry.events)"
            )
        }
    }
}

extension Result where Failure == any Error {
    var failure: (any Error)? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

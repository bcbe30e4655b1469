import Foundation
import Gateway
import NIOCore
import NIOPosix
import PumpSimulator
import PumpTLS
import RelayCore
import Testing

@Suite("Relay: uplink loss and reconnect")
struct RelayUplinkLossTests {
    @Test("backoff doubles from its initial wait up to its maximum and resets on a connection")
    func backoffSteps() {
        var backoff = RelayBackoff(initial: .milliseconds(100), maximum: .milliseconds(500))
        #expect(
            [backoff.failed(), backoff.failed(), backoff.failed(), backoff.failed(), backoff.failed()] == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500), .milliseconds(500),
            ]
        )
        backoff.connected()
        #expect(backoff.failed() == .milliseconds(100))
    }

    @Test(
        "uplink lost mid-session: the gateway marks the pump disconnected, the relay reconnects, the pump resumes through it and telemetry continues once each"
    )
    func uplinkLossThenResume() async throws {
        let bed = try await RelayTestBed(pumps: ["PUMP-0001"])
        let relay = try bed.relay()
        let first = try await relay.connectUplink()
        let listening = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        let port = try #require(listening.channel.localAddress?.port)
        let pump = try bed.pump("PUMP-0001")
        let registry = bed.gateway.registry
        let group = MultiThreadedEventLoopGroup.singleton

        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                await relay.keepUplink(after: first, backoff: RelayBackoff(initial: .milliseconds(50)))
            }
            defer { tasks.cancelAll() }
            do {
                let one = try await pump.runSession(
                    host: "127.0.0.1",
                    port: port,
                    telemetryCount: 3,
                    intervalMilliseconds: 0,
                    firstTelemetrySequence: 1,
                    group: group
                )
                #expect(!one.resumed && one.telemetryAcknowledged == 3)

                // A long session, cut when the uplink goes.
                async let cut = pump.runSession(
                    host: "127.0.0.1",
                    port: port,
                    telemetryCount: 1_000,
                    intervalMilliseconds: 20,
                    firstTelemetrySequence: 4,
                    group: group
                )
                #expect(await bed.eventually { (registry.pump("PUMP-0001")?.telemetryStored ?? 0) >= 6 })
                try await first.close()
                // The pump sees its link cut without close_notify.
                let cutResult: Result<PumpSessionReport, any Error>
                do { cutResult = .success(try await cut) } catch { cutResult = .failure(error) }
                guard case .failure(let cutError) = cutResult else {
                    Issue.record("the session survived the loss of its uplink")
                    return
                }
                // Cut without close_notify: the pump reads end of stream (`truncated`), or, when
                // the relay closes the link while the pump's next telemetry is still unread, a
                // TCP reset. Either way the session ends without a clean close.
                let reset = (cutError as? IOError)?.errnoCode == ECONNRESET
                #expect((cutError as? PumpTLSError)?.code == .truncated || reset, "\(cutError)")
                #expect(await bed.eventually { registry.pump("PUMP-0001")?.connected == false })
                #expect(await bed.eventually { relay.counters.snapshot.uplinkConnects == 2 })
                #expect(relay.counters.snapshot.uplinkLosses == 1)

                // Back through the new uplink: resumed end to end. The pump resends the last
                // telemetry the gateway stored (as after a lost acknowledgement): stored once.
                let next = try #require(registry.pump("PUMP-0001")?.lastTelemetry?.sequence)
                let three = try await pump.runSession(
                    host: "127.0.0.1",
                    port: port,
                    telemetryCount: 3,
                    intervalMilliseconds: 0,
                    firstTelemetrySequence: next,
                    group: group
                )
                #expect(three.resumed, "the pump did not resume its TLS session through the new uplink")
                #expect(three.telemetryAcknowledged == 3)
                let status = try #require(registry.pump("PUMP-0001"))
                #expect(status.lastTelemetry?.sequence == next + 2)
                #expect(status.telemetryStored == Int(next + 2), "each sequence stored exactly once")
                #expect(status.carrier == "phone PHONE-1")
            } catch {
                Issue.record("\(error)")
            }
        }
        try? await listening.channel.close()
        await bed.shutdown()
    }
}

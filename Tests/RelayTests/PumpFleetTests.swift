import Gateway
import NIOCore
import NIOPosix
import PumpSimulator
import RelayCore
import Synchronization
import Testing

@Suite("pump-sim --count: many pumps, reconnecting through a relay that loses its uplink")
struct PumpFleetTests {
    @Test("serials are PREFIX-0001… with at least four digits")
    func serials() {
        #expect(PumpFleet.serials(prefix: "P", count: 3) == ["P-0001", "P-0002", "P-0003"])
        #expect(PumpFleet.serials(prefix: "P", count: 12_000).last == "P-12000")
        #expect(PumpFleet.serials(prefix: "P", count: 12_000)[8] == "P-00009")
    }

    @Test(
        "the uplink is lost twice mid-run: every pump reconnects by resumption and its telemetry 1…N is stored exactly once"
    )
    // The pumps send until stopped, so the test does not race them: each loss comes once every
    // pump is connected and past a mark.
    func fleetSurvivesUplinkLoss() async throws {
        let serials = PumpFleet.serials(prefix: "FLEET", count: 6)
        let bed = try await RelayTestBed(pumps: serials)
        let relay = try bed.relay()
        let first = try await relay.connectUplink()
        let listening = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        let port = try #require(listening.channel.localAddress?.port)
        let activity = PumpActivity()
        let pumps = try serials.map { try bed.pump($0, activity: activity) }
        var configuration = PumpFleet.Configuration(
            host: "127.0.0.1",
            port: port,
            telemetryPerPump: nil,
            intervalMilliseconds: 25
        )
        configuration.initialBackoff = .milliseconds(50)
        let fleet = PumpFleet(pumps: pumps, configuration: configuration)
        let reconnects = ReconnectLog()
        let registry = bed.gateway.registry

        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await relay.keepUplink(after: first, backoff: RelayBackoff(initial: .milliseconds(50))) }
            tasks.addTask {
                await fleet.run(group: MultiThreadedEventLoopGroup.singleton) { event in
                    if case .connected(let serial, let resumed, true, let next) = event {
                        reconnects.add(serial, resumed: resumed, next: next)
                    }
                }
            }
            for mark in [5, 15, 25] {
                #expect(
                    await bed.eventually(within: 60) {
                        registry.pumps.count == 6
                            && registry.pumps.allSatisfy {
                                $0.connected && ($0.lastTelemetry?.sequence ?? 0) >= UInt64(mark)
                            }
                    },
                    "mark \(mark): \(registry.pumps)"
                )
                guard mark < 25 else { break }
                // Cut the uplink: the relay reconnects it, the pumps reconnect through it.
                let uplinks = relay.counters.snapshot.uplinkConnects
                await relay.closeUplink()
                #expect(await bed.eventually(within: 30) { relay.counters.snapshot.uplinkConnects == uplinks + 1 })
            }
            tasks.cancelAll()  // the pumps end their sessions cleanly
            await tasks.waitForAll()
        }
        for serial in serials {
            let status = try #require(registry.pump(serial))
            // Every sequence from 1 to the last stored, each once: no gap, no duplicate.
            let last = try #require(status.lastTelemetry?.sequence)
            #expect(last >= 25 && status.telemetryStored == Int(last), "\(status)")
            #expect(status.resumedSessions == status.sessions - 1, "\(serial): every session after the first resumed")
            let seen = reconnects[serial]
            #expect(seen.count >= 2 && seen.allSatisfy(\.resumed), "\(serial): \(seen)")
        }
        #expect(activity.snapshot.telemetryAcknowledged >= 6 * 25)
        #expect(await bed.eventually { activity.snapshot.connected == 0 })
        #expect(activity.snapshot.reconnects >= 12)
        try? await listening.channel.close()
        await bed.shutdown()
    }
}

/// The reconnections a fleet reported, by serial.
final class ReconnectLog: Sendable {
    private let entries = Mutex<[String: [(resumed: Bool, next: UInt64)]]>([:])

    func add(_ serial: String, resumed: Bool, next: UInt64) {
        self.entries.withLock { $0[serial, default: []].append((resumed, next)) }
    }

    subscript(_ serial: String) -> [(resumed: Bool, next: UInt64)] { self.entries.withLock { $0[serial] ?? [] } }
}

@Suite("pump-sim benchmarks: heartbeat round trips and bulk through the relay")
struct PumpBenchmarkTests {
    @Test("--ping: every heartbeat answered, one round trip each; --bulk: all bytes read by the gateway before the end")
    func pingAndBulk() async throws {
        let bed = try await RelayTestBed(pumps: ["PUMP-0001"])
        let relay = try bed.relay()
        let uplink = try await relay.connectUplink()
        let listening = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        let port = try #require(listening.channel.localAddress?.port)
        let pump = try bed.pump("PUMP-0001")
        func run(_ benchmark: PumpBenchmark) async throws -> PumpSessionReport {
            try await pump.runSession(
                host: "127.0.0.1",
                port: port,
                telemetryCount: 0,
                intervalMilliseconds: 0,
                firstTelemetrySequence: 1,
                group: bed.group,
                benchmark: benchmark
            )
        }
        let ping = try await run(.ping(count: 50))
        #expect(ping.roundTripNanoseconds.count == 50 && ping.roundTripNanoseconds.allSatisfy { $0 > 0 })
        #expect(ping.telemetryAcknowledged == 0)
        let before = relay.counters.snapshot.bytesFromPumps
        let bulk = try await run(.bulk(bytes: 1_048_576))
        #expect(bulk.bulkBytes >= 1_048_576 && bulk.bulkNanoseconds > 0)
        #expect(bulk.bytesSent > bulk.bulkBytes, "ciphertext is larger than the plaintext it carries")
        #expect(await bed.eventually { relay.counters.snapshot.bytesFromPumps - before == bulk.bytesSent })
        #expect(bed.gateway.registry.events.isEmpty, "\(bed.gateway.registry.events)")
        try? await listening.channel.close()
        try? await uplink.close()
        await bed.shutdown()
    }
}

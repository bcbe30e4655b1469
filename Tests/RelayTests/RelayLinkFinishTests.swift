import Gateway
import NIOCore
import NIOPosix
import PumpSimulator
import PumpTLS
import RelayCore
import Testing

@Suite("Relay: a link whose stream the gateway ended is finished, not cut")
struct RelayLinkFinishTests {
    @Test(
        "the gateway ends a session while its pump is still sending: the pump still receives the close_notify, then the end of the link"
    )
    func busyPumpHearsCloseNotify() async throws {
        let bed = try await RelayTestBed(pumps: ["PUMP-0001"], phones: ["PHONE-1", "PHONE-2"])
        let phone1 = try await bed.running(try bed.relay(as: .phone(id: "PHONE-1")))
        let phone2 = try await bed.running(try bed.relay(as: .phone(id: "PHONE-2")))
        let group = MultiThreadedEventLoopGroup.singleton

        // The first session sends as fast as its link takes it (for far longer than the test),
        // so when the gateway ends it, the relay's end of the link has the pump's bytes unread.
        let first = try bed.pump("PUMP-0001")
        async let firstResult = Result(catching: {
            try await first.runSession(
                host: "127.0.0.1",
                port: phone1.port,
                telemetryCount: 0,
                intervalMilliseconds: 0,
                firstTelemetrySequence: 1,
                group: group,
                benchmark: .bulk(bytes: 1 << 40)
            )
        })
        // (Bounded generously: a debug-built gateway on a loaded 2-core machine took over 5 s.)
        #expect(await bed.eventually(within: 60) { phone1.counters.snapshot.bytesFromPumps > 1 << 20 })

        // The same pump through the second phone: the gateway ends the first session.
        let second = try bed.pump("PUMP-0001")
        let report = try await second.runSession(
            host: "127.0.0.1",
            port: phone2.port,
            telemetryCount: 1,
            intervalMilliseconds: 0,
            firstTelemetrySequence: 100,
            group: group
        )
        #expect(report.telemetryAcknowledged == 1)

        // The first pump heard the gateway's close_notify: either its next write was refused
        // because of it, or the link then ended with the session closed. (Cut with a TCP
        // reset, it fails with the reset or a truncated session instead.)
        let ended = await firstResult
        guard case .failure(let error) = ended else {
            Issue.record("the first session was not ended: \(ended)")
            return
        }
        if let tls = error as? PumpTLSError {
            #expect(tls.code == .peerClosed, "\(tls)")
        } else {
            #expect(error is PumpLinkClosed, "\(error)")
        }
        let counters = phone1.counters.snapshot
        // Usually the relay still had the pump's bytes coming when the stream ended, and
        // discarded them while the link finished; on a loaded machine the pump may have been
        // held by back-pressure until close_notify reached it, and then there is nothing to
        // discard. Either way the pump heard close_notify (above) and nothing was dropped.
        if counters.bytesDiscarded == 0 {
            print("relay link finish: the pump sent nothing after the stream ended on this run")
        }
        #expect(counters.drops.isEmpty, "\(counters.drops)")
        #expect(await bed.eventually { phone1.counters.snapshot.linksOpen == 0 })

        await phone1.stop()
        await phone2.stop()
        await bed.shutdown()
    }
}

extension RelayLinkFinishTests {
    @Test(
        "hundreds of pump links through one relay within seconds end without stream resets: the uplink stays up (HTTP/2 peers cut a connection that sends 200 resets in 30 s)"
    )
    func manyShortLinksKeepTheUplink() async throws {
        let serials = (1...6).map { "PUMP-000\($0)" }
        let bed = try await RelayTestBed(pumps: serials)
        let phone = try await bed.running(try bed.relay())
        let relay = phone.relay
        let port = phone.port
        let sessionsPerPump = 40  // 240 links in all

        let failures = try await withThrowingTaskGroup(of: [String].self) { group in
            for serial in serials {
                let pump = try bed.pump(serial)
                group.addTask {
                    var failures: [String] = []
                    for session in 0..<sessionsPerPump {
                        do {
                            _ = try await pump.runSession(
                                host: "127.0.0.1",
                                port: port,
                                telemetryCount: 1,
                                intervalMilliseconds: 0,
                                firstTelemetrySequence: UInt64(session + 1),
                                group: bed.group
                            )
                        } catch {
                            failures.append("\(serial) session \(session): \(error)")
                        }
                    }
                    return failures
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        let counters = relay.counters.snapshot
        #expect(counters.linksAccepted == serials.count * sessionsPerPump)
        #expect(counters.uplinkLosses == 0)
        #expect(counters.drops.isEmpty, "\(counters.drops)")
        #expect(phone.uplink.isActive)
        #expect(bed.gateway.registry.events.isEmpty, "\(bed.gateway.registry.events.prefix(3))")
        #expect(await bed.eventually { relay.counters.snapshot.linksOpen == 0 })

        await phone.stop()
        await bed.shutdown()
    }
}

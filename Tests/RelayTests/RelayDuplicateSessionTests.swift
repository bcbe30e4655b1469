import Gateway
import NIOCore
import NIOPosix
import PumpSimulator
import RelayCore
import Testing

@Suite("Gateway: a second session of the same pump replaces the first")
struct RelayDuplicateSessionTests {
    @Test(
        "the same pump through a second phone: the first session is closed with close_notify, the second works, the event names both phones"
    )
    func secondSessionReplacesFirst() async throws {
        let bed = try await RelayTestBed(pumps: ["PUMP-0001"], phones: ["PHONE-1", "PHONE-2"])
        let phone1 = try await bed.running(try bed.relay(as: .phone(id: "PHONE-1")))
        let phone2 = try await bed.running(try bed.relay(as: .phone(id: "PHONE-2")))
        let group = MultiThreadedEventLoopGroup.singleton

        // The first session sends one message and then waits a minute for the next; the second
        // session must end it before that. (Quiet, so that the relay's close of its link is a
        // clean one: a link closed with the pump's next message unread would be a TCP reset.)
        let first = try bed.pump("PUMP-0001")
        async let firstResult = Result(catching: {
            try await first.runSession(
                host: "127.0.0.1",
                port: phone1.port,
                telemetryCount: 2,
                intervalMilliseconds: 60_000,
                firstTelemetrySequence: 1,
                group: group
            )
        })
        #expect(
            await bed.eventually {
                let pump = bed.gateway.registry.pump("PUMP-0001")
                return pump?.carrier == "phone PHONE-1" && pump?.telemetryStored == 1
            }
        )

        // The same pump (another instance: a full handshake) through the second phone, for ~1 s.
        let second = try bed.pump("PUMP-0001")
        async let secondResult = Result(catching: {
            try await second.runSession(
                host: "127.0.0.1",
                port: phone2.port,
                telemetryCount: 40,
                intervalMilliseconds: 25,
                firstTelemetrySequence: 100_000,
                group: group
            )
        })

        // The gateway closed the first session cleanly: the pump heard close_notify.
        let ended = await firstResult
        guard case .failure(let error) = ended else {
            Issue.record("the first session was not closed: \(ended)")
            return
        }
        #expect(error is PumpLinkClosed, "\(error)")
        // The old session's end does not mark the pump gone: the second session is live.
        let pump = bed.gateway.registry.pump("PUMP-0001")
        #expect(pump?.connected == true)
        #expect(pump?.carrier == "phone PHONE-2")
        #expect(pump?.sessions == 2)

        let report = try await secondResult.get()
        #expect(report.telemetryAcknowledged == 40)
        #expect(bed.gateway.registry.pump("PUMP-0001")?.lastTelemetry?.sequence == 100_039)

        let duplicates = bed.gateway.registry.events.filter { $0.kind == "duplicate_session" }
        #expect(duplicates.count == 1)
        let event = try #require(duplicates.first)
        #expect(event.device == "PUMP-0001")
        #expect(event.carrier == "phone PHONE-2")
        #expect(event.detail.contains("via phone PHONE-2 replaced session 1 via phone PHONE-1"), "\(event.detail)")
        #expect(await bed.eventually { bed.gateway.registry.pump("PUMP-0001")?.connected == false })

        await phone1.stop()
        await phone2.stop()
        await bed.shutdown()
    }
}

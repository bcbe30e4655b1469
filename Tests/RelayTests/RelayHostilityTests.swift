import Gateway
import GatewayTLS
import NIOCore
import PumpSimulator
import PumpTLS
import RelayCore
import RelayHostility
import Testing

/// Each behaviour of a hostile phone, against real TLS engines over loopback: the tampered
/// session dies or its record is refused, nothing from a tampered record is stored, the
/// gateway's security event names the phone, and the two other pumps on the same relay keep
/// working (``HostileScenario``). The pump under test is link 3 (the bystanders are 1 and 2).
@Suite("Relay: a hostile phone cannot change what it carries, and only its victims notice")
struct RelayHostilityTests {
    static let target = "PUMP-0001"

    @Test(
        "a record dropped, held back, flipped or preceded by a forgery: refused (recordRejected), nothing stored",
        arguments: [HostileBehaviour.drop, .reorder, .flip, .inject]
    )
    func firstTelemetryTampered(_ behaviour: HostileBehaviour) async throws {
        // Record 1 after the handshake is the hello; record 2 is telemetry 1.
        try await HostileScenario.run("\(behaviour),link=3,records=app,after=1,count=1") { scenario in
            let result = await scenario.session(Self.target)
            #expect(result.failure != nil, "the tampered session survived: \(result)")
            #expect(scenario.hostile.counters[behaviour] == 1)
            await scenario.expectEvent(device: Self.target, kind: "tunnel_failed", code: .recordRejected)
            let status = try #require(scenario.registry.pump(Self.target))
            #expect(status.firmware == "medtunnel-sim-1", "the untouched hello before it was taken")
            #expect(status.telemetryStored == 0 && status.lastTelemetry == nil, "\(status)")
        }
    }

    @Test(
        "the pump's handshake flight reordered, flipped, duplicated or injected: the handshake fails, the pump is never connected",
        arguments: [HostileBehaviour.reorder, .flip, .duplicate, .inject]
    )
    func handshakeTampered(_ behaviour: HostileBehaviour) async throws {
        // Record 1 is the ClientHello; record 2 starts the pump's second flight.
        try await HostileScenario.run("\(behaviour),link=3,records=handshake,after=1,count=1") { scenario in
            let result = await scenario.session(Self.target)
            #expect(result.failure != nil, "the tampered handshake succeeded: \(result)")
            #expect(scenario.hostile.counters[behaviour] == 1)
            // A bit flipped in the pump's certificate breaks its signature instead.
            await scenario.expectEvent(
                device: nil,
                kind: "handshake_failed",
                code: .handshakeFailed,
                or: behaviour == .flip ? .certificateRejected : nil
            )
            #expect(
                scenario.registry.pump(Self.target) == nil,
                "\(String(describing: scenario.registry.pump(Self.target)))"
            )
        }
    }

    @Test("a duplicated record: the original is stored once, the copy is refused and ends the tunnel")
    func duplicate() async throws {
        try await HostileScenario.run("duplicate,link=3,records=app,after=2,count=1") { scenario in
            let result = await scenario.session(Self.target)
            #expect(result.failure != nil, "the session survived a duplicated record: \(result)")
            #expect(scenario.hostile.counters[.duplicate] == 1)
            await scenario.expectEvent(device: Self.target, kind: "tunnel_failed", code: .recordRejected)
            let status = try #require(scenario.registry.pump(Self.target))
            #expect(status.lastTelemetry?.sequence == 2 && status.telemetryStored == 2, "\(status)")
        }
    }

    @Test("a delay of 50 ms on every record both ways is tolerated: telemetry arrives once each, no event")
    func delay() async throws {
        try await HostileScenario.run("delay=50ms,link=3,dir=both") { scenario in
            let report = try await scenario.session(Self.target, telemetry: 4).get()
            #expect(report.telemetryAcknowledged == 4)
            #expect(scenario.hostile.counters[.delay] >= 2 * (4 + 3))
            let status = try #require(scenario.registry.pump(Self.target))
            #expect(status.telemetryStored == 4 && status.lastTelemetry?.sequence == 4, "\(status)")
            #expect(scenario.registry.events.isEmpty, "\(scenario.registry.events)")
        }
    }

    @Test("a record cut short and the link closed: the gateway reports truncated; telemetry before it stored once")
    func truncate() async throws {
        try await HostileScenario.run("truncate,link=3,records=app,after=2,count=1") { scenario in
            let result = await scenario.session(Self.target)
            #expect(result.failure != nil)
            #expect(scenario.hostile.counters[.truncate] == 1)
            await scenario.expectEvent(device: Self.target, kind: "tunnel_failed", code: .truncated)
            let status = try #require(scenario.registry.pump(Self.target))
            #expect(status.telemetryStored == 1 && status.lastTelemetry?.sequence == 1, "\(status)")
        }
    }

    @Test("a record flipped on its way to the pump: the pump refuses it (badRecordMAC) and the gateway hears its alert")
    func flipTowardsThePump() async throws {
        try await HostileScenario.run("flip,link=3,records=app,dir=down,count=1") { scenario in
            let result = await scenario.session(Self.target)
            #expect((result.failure as? PumpTLSError)?.code == .badRecordMAC, "\(result)")
            #expect(scenario.hostile.counters[.flip] == 1)
            await scenario.expectEvent(device: Self.target, kind: "tunnel_failed", code: .peerRefused)
            #expect(scenario.registry.pump(Self.target)?.telemetryStored == 0)
        }
    }

    @Test(
        "an earlier session replayed on a new stream, full and resumed: the handshake fails, nothing is stored again"
    )
    func replay() async throws {
        try await HostileScenario.run("replay,link=3;replay,link=4") { scenario in
            let pump = try scenario.bed.pump(Self.target)
            let full = try await scenario.session(Self.target, pump: pump).get()
            #expect(!full.resumed && full.telemetryAcknowledged == 3)
            #expect(await scenario.bed.eventually { scenario.hostile.counters[.replay] == 1 })
            let first = await scenario.expectEvent(device: nil, kind: "handshake_failed", code: .handshakeFailed)
            // The replayed CertificateVerify signed the old handshake, not this one.
            #expect(first?.detail.contains("bad signature") == true, "\(String(describing: first))")

            let resumed = try await scenario.session(Self.target, firstSequence: 4, pump: pump).get()
            #expect(resumed.resumed && resumed.telemetryAcknowledged == 3)
            #expect(await scenario.bed.eventually { scenario.hostile.counters[.replay] == 2 })
            #expect(
                await scenario.bed.eventually {
                    scenario.registry.events.filter { $0.kind == "handshake_failed" }.count == 2
                },
                "\(scenario.registry.events)"
            )
            let second = scenario.registry.events.last { $0.kind == "handshake_failed" }
            #expect(second != first && second?.carrier == HostileScenario.phone, "\(String(describing: second))")
            // The replayed Finished was encrypted under the old session's keys.
            #expect(
                second?.detail.hasPrefix("TLS \(GatewayTLSError.Code.handshakeFailed):") == true
                    && second?.detail.contains("bad record mac") == true,
                "\(String(describing: second))"
            )

            // Only the two real sessions count: two sessions, telemetry 1…6 stored once.
            let status = try #require(scenario.registry.pump(Self.target))
            #expect(status.sessions == 2 && status.telemetryStored == 6, "\(status)")
            // The gateway sees the pump's hang-up a moment after the pump's report is in.
            #expect(
                await scenario.bed.eventually { scenario.registry.pump(Self.target)?.connected == false },
                "\(String(describing: scenario.registry.pump(Self.target)))"
            )
        }
    }

    @Test("one pump's record spliced into another pump's stream: refused there, lost to its own; both tunnels end")
    func splice() async throws {
        // Link 3 is PUMP-0002 (the victim), link 4 is PUMP-0001 (whose telemetry is moved).
        try await HostileScenario.run("splice=3,link=4,records=app,after=1,count=1") { scenario in
            let registry = scenario.registry
            async let victim = scenario.session("PUMP-0002", telemetry: 1_000, interval: 20)
            #expect(await scenario.bed.eventually { (registry.pump("PUMP-0002")?.telemetryStored ?? 0) >= 2 })
            let source = await scenario.session(Self.target, firstSequence: 1_000_001)
            #expect(source.failure != nil)
            #expect((await victim).failure != nil, "the victim's session accepted a foreign record")
            #expect(scenario.hostile.counters[.splice] == 1)
            await scenario.expectEvent(device: "PUMP-0002", kind: "tunnel_failed", code: .recordRejected)
            await scenario.expectEvent(device: Self.target, kind: "tunnel_failed", code: .recordRejected)
            #expect(registry.pump(Self.target)?.telemetryStored == 0)
            let victimLast = try #require(registry.pump("PUMP-0002")?.lastTelemetry?.sequence)
            #expect(victimLast < 1_000, "the spliced telemetry was stored for the victim")
        }
    }
}

@Suite("Relay: a hostile phone cutting the pump's stream at every kind of offset")
struct RelayTruncationSweepTests {
    /// One full session through a relay cutting the pump→gateway stream after `offset` bytes.
    /// Returns the pump's bytes as the relay read them, and the outcome.
    func cut(
        at offset: Int,
        bed: RelayTestBed,
        firstSequence: UInt64
    ) async throws -> (bytes: [UInt8], result: Result<PumpSessionReport, any Error>) {
        let recorder = ByteRecorder()
        let (relay, _) = try bed.hostileRelay("truncate-at=\(offset)", tap: recorder.tap)
        let uplink = try await relay.connectUplink()
        let listening = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        let port = try #require(listening.channel.localAddress?.port)
        let pump = try bed.pump("PUMP-0001")
        let result = await Result {
            try await pump.runSession(
                host: "127.0.0.1",
                port: port,
                telemetryCount: 3,
                intervalMilliseconds: 0,
                firstTelemetrySequence: firstSequence,
                group: bed.group
            )
        }
        #expect(await bed.eventually { relay.counters.snapshot.linksOpen == 0 })
        try? await listening.channel.close()
        try? await uplink.close()
        return (recorder.recorded(.fromPump), result)
    }

    /// The records in `bytes`, as (content type, end offset).
    func records(_ bytes: [UInt8]) -> [(type: UInt8?, end: Int)] {
        var splitter = TLSRecordSplitter()
        var end = 0
        return splitter.append(ByteBuffer(bytes: bytes)).map { record in
            end += record.bytes.readableBytes
            return (record.contentType, end)
        }
    }

    @Test(
        "cut at each record's start, inside its header, after its header, in its middle and at its last byte: the gateway reports truncated, names the phone, and stores exactly the telemetry records that arrived whole"
    )
    func cutEverywhere() async throws {
        let bed = try await RelayTestBed(pumps: ["PUMP-0001"])
        let registry = bed.gateway.registry
        let (clean, cleanResult) = try await self.cut(at: 1_000_000, bed: bed, firstSequence: 1)
        #expect(try cleanResult.get().telemetryAcknowledged == 3)
        let layout = self.records(clean)
        #expect(layout.count >= 10 && layout.last?.end == clean.count, "\(layout)")
        var stored = registry.pump("PUMP-0001")?.telemetryStored ?? 0
        #expect(stored == 3)
        // The handshake is over, for the gateway, once this many records arrived whole.
        let handshakeRecords = layout.prefix { $0.type != TLSRecordSplitter.applicationData }.count

        var offsets: Set<Int> = []
        var start = 0
        for record in layout {
            offsets.formUnion([start, start + 1, start + 5, (start + record.end) / 2, record.end - 1])
            start = record.end
        }
        var sequence: UInt64 = 4
        for offset in offsets.sorted() where offset < clean.count {
            let eventsBefore = registry.events.count
            let (bytes, result) = try await self.cut(at: offset, bed: bed, firstSequence: sequence)
            sequence += 3
            // What the relay read of the pump (the pump sends no more once its link is cut).
            // The signature in its CertificateVerify varies in length by a byte or two, so
            // this run's records may sit a little off the clean run's.
            let run = self.records(bytes)
            // A cut inside the final close_notify (content type 21) comes after the work is
            // done, and one after it cuts nothing.
            let closeNotifyStart = run.last?.type == 21 ? run.dropLast().last?.end ?? 0 : Int.max
            #expect(
                (result.failure != nil) == (offset < closeNotifyStart),
                "offset \(offset), close_notify at \(closeNotifyStart): \(String(describing: result.failure))"
            )
            let cutSomething = offset > 0 && (offset < bytes.count || closeNotifyStart == Int.max)
            // The gateway records the event when the stream ends, after what came before it.
            if cutSomething {
                #expect(
                    await bed.eventually(within: 30) { registry.events.count > eventsBefore },
                    "offset \(offset): no event"
                )
            }
            let wholeTelemetry = run.filter { $0.type == TLSRecordSplitter.applicationData }.dropFirst()
                .filter { $0.end <= offset }.count
            let now = registry.pump("PUMP-0001")?.telemetryStored ?? 0
            #expect(now - stored == wholeTelemetry, "offset \(offset): stored \(now - stored), whole \(wholeTelemetry)")
            stored = now
            guard cutSomething else { continue }
            let tunnel = run.count >= handshakeRecords && run[handshakeRecords - 1].end <= offset
            let event = registry.events.dropFirst(eventsBefore).first
            #expect(
                event?.kind == (tunnel ? "tunnel_failed" : "handshake_failed"),
                "offset \(offset): \(String(describing: event))"
            )
            #expect(event?.device == (tunnel ? "PUMP-0001" : nil))
            #expect(event?.carrier == "phone PHONE-1")
            #expect(
                event?.detail.hasPrefix("TLS \(GatewayTLSError.Code.truncated):") == true,
                "offset \(offset): \(String(describing: event))"
            )
        }
        await bed.shutdown()
    }
}

import ChangeRequests
import CommandPipeline
import Foundation
import GatewayTLS
import PumpTLS
import RelayHostility
import Testing
import TherapyModel

/// A hostile relay on the real command path (DESIGN.md, "Attacks"): the gateway with its
/// pipeline, a phone relay over loopback that tampers with one command exchange, and a
/// simulated pump with its runtime, all real (TLS both ways, SQLite audit log, fsync'd pump
/// state). Every command ends applied exactly once or not applied, and the audit log agrees
/// with the pump's state.
@Suite("Command path through a hostile relay")
struct CommandPathHostilityTests {
    static let serial = CommandPath.serial
    /// Application-data records this long or longer are commands (gateway → pump) and
    /// acknowledgements (pump → gateway); hellos, telemetry and their answers are shorter.
    static let commandSized = "records=app,min-bytes=120"

    // MARK: 1. Truncation at every offset

    /// The offsets into a record of `length` bytes to cut after: every one with
    /// `MEDTUNNEL_SOAK=1`; else inside and at the end of the 5-byte header, after the first
    /// three body bytes, a stride through the middle, the last three missing, and none missing.
    static func offsets(recordLength length: Int, soak: Bool) -> [Int] {
        guard !soak else { return Array(0...length) }
        let header = 5
        var offsets = Set(0...(header + 3))
        offsets.formUnion((length - 3)...length)
        offsets.formUnion(stride(from: header + 4, to: length - 3, by: max(1, (length - header - 7) / 6)))
        return offsets.sorted()
    }

    static var soak: Bool { ProcessInfo.processInfo.environment["MEDTUNNEL_SOAK"] == "1" }

    @Test(
        "the link cut at each byte of the command record and of the acknowledgement record: before the whole command arrived it is not applied; after, applied exactly once (an acknowledgement cut off is settled from the next hello, never re-sent)"
    )
    func truncationSweep() async throws {
        let cutter = PumpLinkCutter()
        try await CommandPath.run(interposer: cutter.interposer) { path in
            try await path.setTherapy()
            var threshold = try path.pumpState.settings.suspendThreshold.rawValue
            var session = path.session()
            try await path.connected(session)
            try await path.until("the gateway's answer to the hello passes the relay") {
                !cutter.recordLengths(.toPump).isEmpty
            }

            // One exchange uncut: the lengths of the command and acknowledgement records.
            func nextThreshold() -> Int64 {
                threshold = threshold >= 80 ? 74 : threshold + 1  // inside the recommended 74…80, never the same
                return threshold
            }
            let first = try await path.settled(
                try await path.submit(Self.suspendThreshold(nextThreshold()), by: "drsmith").id
            )
            #expect(first.state == .applied && first.sequence == 1)
            let commandLength = try #require(cutter.recordLengths(.toPump).last)
            let acknowledgementLength = try #require(cutter.recordLengths(.toGateway).last)

            let plan =
                Self.offsets(recordLength: commandLength, soak: Self.soak).map { (PumpLinkCutter.Direction.toPump, $0) }
                + Self.offsets(recordLength: acknowledgementLength, soak: Self.soak).map { (.toGateway, $0) }
            let started = ContinuousClock.now
            var pumpApplied = 1
            var pump = (lastApplied: UInt64(1), highWater: UInt64(1))
            for (direction, offset) in plan {
                let length = direction == .toPump ? commandLength : acknowledgementLength
                let what = "cut \(direction) after \(offset) of \(length) bytes"
                cutter.arm(direction, bytes: offset)
                let submitted = try await path.submit(Self.suspendThreshold(nextThreshold()), by: "drsmith")
                let ended = try await path.ended(session)
                #expect(
                    cutter.cuts.last
                        == PumpLinkCutter.Cut(direction: direction, forwarded: offset, recordLength: length),
                    "\(what): \(String(describing: cutter.cuts.last))"
                )
                #expect((ended.failure as? PumpTLSError)?.code == .truncated, "\(what): \(ended)")

                // What the pump did, before it reconnects: the command is applied iff all of it arrived.
                let sequence = try #require(try await path.request(submitted.id).sequence, "\(what): never sent")
                let delivered = direction == .toGateway || offset == length
                if delivered { pump = (sequence, sequence) }
                let state = try path.pumpState
                #expect(
                    state.lastAppliedSequence == pump.lastApplied && state.highWaterSequence == pump.highWater,
                    "\(what): the pump holds \(state.lastAppliedSequence)/\(state.highWaterSequence), sequence \(sequence)"
                )
                if delivered { pumpApplied += 1 }

                // The pump reconnects; its hello settles what was uncertain. The gateway's answer
                // to the hello must have passed the cutter before it is armed again.
                try await path.disconnected()
                let answered = cutter.recordLengths(.toPump).count
                session = try await path.reconnect()
                try await path.until("the gateway's answer to the hello passes the relay") {
                    cutter.recordLengths(.toPump).count > answered
                }
                let settled = try await path.settled(submitted.id)
                let expected: [ChangeRequestState] =
                    if direction == .toGateway && offset == length {
                        [.accepted, .queued, .sent, .applied]  // the whole acknowledgement arrived
                    } else {
                        [.accepted, .queued, .sent, .uncertain, delivered ? .applied : .notApplied]
                    }
                #expect(settled.history.map(\.to) == expected, "\(what)")
            }
            let elapsed = ContinuousClock.now - started
            print(
                "truncation sweep: \(plan.count) offsets tried (command record \(commandLength) B, acknowledgement "
                    + "record \(acknowledgementLength) B\(Self.soak ? ", every offset" : "")) in \(elapsed)"
            )
            #expect(cutter.cuts.count == plan.count)
            // Links end with END_STREAM, not RST_STREAM, so even the soak run's hundreds of links
            // in seconds stay under the gateway's HTTP/2 rapid-reset limit (200 resets in 30 s,
            // swift-nio-http2's default): the uplink is never lost.
            #expect(path.relay.counters.snapshot.uplinkLosses == 0, "\(path.bed.gateway.registry.events)")

            await session.stop()
            let applied = try await path.expectAuditAgreesWithPump()
            #expect(applied == pumpApplied, "the pump applied \(pumpApplied), the audit log says \(applied)")
            #expect(try await path.auditedSecurityEvents() == [])
        }
    }

    // MARK: 2–6. The hostile relay's behaviours on one command

    @Test(
        "a duplicated command record: TLS refuses the copy (the pump ends the session with bad_record_mac); the command is applied at most once and settled from the pump's hello"
    )
    func duplicate() async throws {
        try await CommandPath.run(hostile: "duplicate,link=1,dir=down,\(Self.commandSized),count=1") { path, hostile in
            let (first, bolus) = try await path.bolusOnNewSession()
            let ended = try await path.ended(first)
            #expect(hostile.counters[.duplicate] == 1)
            #expect((ended.failure as? PumpTLSError)?.code == .badRecordMAC, "\(ended)")
            // The pump handled the first copy if it was read on its own; never the second.
            let received = path.pump.commandsReceived.count
            #expect(received <= 1)
            let state = try path.pumpState
            let sequence = try #require(try await path.request(bolus.id).sequence)
            #expect(
                state.lastAppliedSequence == (received == 1 ? sequence : 0)
                    && state.highWaterSequence == state.lastAppliedSequence
            )
            // The pump's alert, at the gateway.
            try await path.expectTunnelFailed(.peerRefused, saying: "alert bad record mac")

            let (second, settled) = try await path.reconnectAndSettle(bolus.id)
            #expect(settled.state == (received == 1 ? .applied : .notApplied), "\(settled.history)")
            await second.stop()
            #expect(path.pump.commandsReceived.count == received, "the command was sent again")
            print(
                "duplicate: the pump \(received == 1 ? "applied the first copy" : "read both copies at once and applied neither")"
            )
            try await path.expectAuditAgreesWithPump()
        }
    }

    @Test(
        "the command record sent after the next record: TLS refuses the swapped records (bad_record_mac), nothing is applied, the hello settles it not applied"
    )
    func reorder() async throws {
        try await CommandPath.run(hostile: "reorder,link=1,dir=down,\(Self.commandSized),count=1") { path, hostile in
            let (first, bolus) = try await path.bolusOnNewSession()
            let ended = try await path.ended(first)
            #expect(hostile.counters[.reorder] == 1)
            #expect((ended.failure as? PumpTLSError)?.code == .badRecordMAC, "\(ended)")
            #expect(path.pump.commandsReceived.isEmpty)
            #expect(try path.pumpState.highWaterSequence == 0)
            // The pump's alert, at the gateway.
            try await path.expectTunnelFailed(.peerRefused, saying: "alert bad record mac")

            let (second, settled) = try await path.reconnectAndSettle(bolus.id)
            #expect(settled.history.map(\.to) == [.accepted, .queued, .sent, .uncertain, .notApplied])
            await second.stop()
            #expect(try await path.expectAuditAgreesWithPump() == 0)
        }
    }

    @Test(
        "the acknowledgement dropped: the gateway refuses the pump's next record, the command is uncertain, then settled applied from the next hello and never sent again"
    )
    func dropAcknowledgement() async throws {
        try await CommandPath.run(hostile: "drop,link=1,dir=up,\(Self.commandSized),count=1") { path, hostile in
            let (first, bolus) = try await path.bolusOnNewSession()
            let ended = try await path.ended(first)
            #expect(hostile.counters[.drop] == 1)
            // The gateway ends the tunnel; the pump sees its link end without close_notify.
            #expect((ended.failure as? PumpTLSError)?.code == .truncated, "\(ended)")
            try await path.until("the command is uncertain") { try await path.request(bolus.id).state == .uncertain }
            let sequence = try #require(try await path.request(bolus.id).sequence)
            #expect(try path.pumpState.lastAppliedSequence == sequence)
            // The pump's next record followed the dropped one: its record number is off by one.
            try await path.expectTunnelFailed(.recordRejected, saying: "bad record mac")

            let (second, settled) = try await path.reconnectAndSettle(bolus.id)
            #expect(settled.history.map(\.to) == [.accepted, .queued, .sent, .uncertain, .applied])
            #expect(try await path.audited(.commandAcknowledged, request: bolus.id) == 0)
            #expect(try await path.audited(.commandReconciled, request: bolus.id) == 1)
            await second.stop()
            #expect(path.pump.commandsReceived.count == 1, "the command was sent again")
            #expect(try await path.expectAuditAgreesWithPump() == 1)
        }
    }

    /// The gateway's clock runs this far behind the pump's, so that a bolus (5 min lifetime)
    /// the gateway accepts expires 4 s later by the pump's clock; the relay holds it 8 s.
    static let skew: Int64 = 5 * 60_000 - 4_000

    @Test(
        "the command held by the relay past its expiry: the pump refuses it as expired, consuming the sequence; recorded refused_by_pump (expired)"
    )
    func delayPastExpiry() async throws {
        let clock: @Sendable () -> Timestamp = {
            Timestamp(millisecondsSinceEpoch: CommandPipeline.wallClock().millisecondsSinceEpoch - Self.skew)
        }
        try await CommandPath.run(clock: clock, hostile: "delay=8s,link=1,dir=down,\(Self.commandSized),count=1") {
            path,
            hostile in
            let (session, bolus) = try await path.bolusOnNewSession()
            // The relay holds it 8 s; on a loaded machine (the full suite runs browsers and
            // collectors beside this) the rest can take a while.
            let settled = try await path.settled(bolus.id, within: 60)
            #expect(hostile.counters[.delay] == 1)
            #expect(settled.state == .refusedByPump(code: "expired"), "\(settled.history)")
            // It left the gateway with time to spare: the relay's hold made it late.
            let sent = try #require(settled.history.first { $0.to == .sent })
            let expiry = try #require(settled.expiresAt)
            #expect(expiry.millisecondsSinceEpoch - sent.at.millisecondsSinceEpoch >= 1_000, "\(sent.at) \(expiry)")
            #expect(try await path.audited(.commandAcknowledged, request: bolus.id) == 1)
            await session.stop()
            let state = try path.pumpState
            #expect(state.lastAppliedSequence == 0 && state.highWaterSequence == settled.sequence)
            #expect(try await path.expectAuditAgreesWithPump() == 0)
        }
    }

    @Test(
        "a recorded session that carried a command, replayed by the phone: the gateway refuses the replayed handshake (security event), nothing is applied twice"
    )
    func replayAcrossSessions() async throws {
        try await CommandPath.run(hostile: "replay,link=1") { path, hostile in
            let (first, bolus) = try await path.bolusOnNewSession()
            #expect(try await path.settled(bolus.id).state == .applied)
            await first.stop()
            #expect(try #require(first.result).failure == nil)

            try await path.until("the relay replays the session") { hostile.counters[.replay] == 1 }
            let registry = path.bed.gateway.registry
            try await path.until("the gateway refuses the replayed handshake") {
                registry.events.contains { $0.kind == "handshake_failed" }
            }
            let event = try #require(registry.events.first { $0.kind == "handshake_failed" })
            #expect(event.carrier == "phone PHONE-1", "\(event)")
            // The replayed CertificateVerify signed the old handshake, not this one.
            #expect(
                event.detail.hasPrefix("TLS \(GatewayTLSError.Code.handshakeFailed):")
                    && event.detail.contains("bad signature"),
                "\(event)"
            )

            // The pump's next session and command work; the replay counted for nothing.
            let second = path.session(telemetry: 1_000_000, firstTelemetry: 1_000)
            try await path.connected(second)
            let next = try await path.bolus(1_000)
            #expect(try await path.settled(next.id).state == .applied)
            await second.stop()
            #expect(registry.pump(Self.serial)?.sessions == 2, "\(String(describing: registry.pump(Self.serial)))")
            #expect(try await path.request(bolus.id).history.map(\.to) == [.accepted, .queued, .sent, .applied])
            #expect(path.pump.commandsReceived.count == 2)
            #expect(try path.pumpState.lastAppliedSequence == 2)
            #expect(try await path.auditedSecurityEvents() == [])
            #expect(try await path.expectAuditAgreesWithPump() == 2)
        }
    }

    static func suspendThreshold(_ mgdL: Int64) -> String { "{\"kind\": \"set_suspend_threshold\", \"mgdL\": \(mgdL)}" }
}

import AnomalyRules
import ChangeRequests
import CommandPipeline
import Foundation
import Gateway
import MedTunnelPKI
import RelayCore
import SecurityEvents
import Testing

/// A revocation or a phone lockout bites on live sessions (within a second), not only at the
/// next handshake, and nothing submitted afterwards reaches the pump through what was shut out;
/// a phone that cuts commands is shut out by the rules, with no person watching.
@Suite("Live revocation and phone lockout", .serialized)
struct LiveRevocationTests {
    /// Polls `condition` every 10 ms; returns how long it took to hold (nil: not within `limit`).
    static func time(
        within limit: Duration = .seconds(10),
        _ condition: () async throws -> Bool
    ) async rethrows
        -> Duration?
    {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if try await condition() { return ContinuousClock.now - start }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    @Test("a pump revoked while connected loses its session within 1 s; a bolus asked afterwards is never applied")
    func revokedPump() async throws {
        try await CommandPath.run(interposer: { _, _ in }) { path in
            try await path.setTherapy()
            let session = path.session(telemetry: 1_000_000)
            try await path.connected(session)
            let applied = path.pump.runtime?.state.lastAppliedSequence
            _ = try await RevocationList.revoke(
                .pump(serial: CommandPath.serial),
                reason: "test: stolen",
                in: path.bed.pki
            ) { _ in }
            let registry = path.bed.gateway.registry
            let closed = await Self.time { registry.pump(CommandPath.serial)?.connected == false }
            let elapsed = try #require(closed, "the revoked pump's session stayed open")
            try await path.disconnected()
            #expect(elapsed < .seconds(1), "closed after \(elapsed)")
            #expect(path.bed.gateway.registry.events.contains { $0.kind == "revoked_session_closed" })
            let bolus = try await path.bolus(1_000)
            let again = path.session()
            _ = try await path.ended(again)
            #expect(try await path.request(bolus.id).state == .queued, "the bolus left the queue")
            #expect(path.pump.runtime?.state.lastAppliedSequence == applied)
            await session.stop()
        }
    }

    @Test("a phone locked out loses its uplink within 1 s and cannot come back; its pump applies through another phone")
    func lockedOutPhone() async throws {
        try await CommandPath.run(interposer: { _, _ in }) { path in
            try await path.setTherapy()
            let session = path.session(telemetry: 1_000_000)
            try await path.connected(session)
            let view = try await path.commands.startLockout(
                body: Data(#"{"scope": "phone:PHONE-1", "reason": "test: phone reported stolen"}"#.utf8),
                authorization: try await path.bearer("ines")
            )
            #expect(view.lockout.isActive)
            let phones = path.bed.gateway.phones
            let closed = await Self.time { !(phones.phone("PHONE-1")?.connected ?? false) }
            let elapsed = try #require(closed, "PHONE-1's uplink stayed open")
            #expect(elapsed < .seconds(1), "closed after \(elapsed)")
            #expect(phones.shutOutReason("PHONE-1") == "phone lockout")
            let bolus = try await path.bolus(500)
            // The relay keeps trying; every uplink it opens is refused, and the pump's links with it.
            let refused = await Self.time {
                path.bed.gateway.registry.events.contains { $0.kind == "relay_shut_out" }
            }
            #expect(refused != nil, "no reconnection of PHONE-1 was refused")
            #expect(try await path.request(bolus.id).state == .queued)
            // The same pump through PHONE-2.
            let other = try await path.bed.running(try path.bed.relay(as: .phone(id: "PHONE-2")))
            let moved = path.session(telemetry: 1_000_000, firstTelemetry: 5_000, port: other.port)
            let settled = try await path.settled(bolus.id)
            #expect(settled.state == .applied)
            #expect(path.bed.gateway.registry.pump(CommandPath.serial)?.carrier == "phone PHONE-2")
            await moved.stop()
            await session.stop()
            await other.stop()
        }
    }

    @Test(
        "a phone that cuts every command is locked out by the rules; the pump's next command goes through another phone"
    )
    func automaticLockout() async throws {
        try await CommandPath.run(hostile: "truncate,dir=down,records=app,min-bytes=120", rules: .defaults) {
            path,
            hostile in
            try await path.setTherapy()
            var cut: [ChangeRequest] = []
            for amount in [500, 600] {
                let session = path.session(telemetry: 1_000_000, firstTelemetry: UInt64(amount))
                try await path.connected(session)
                let bolus = try await path.bolus(amount)
                _ = try await path.ended(session)
                try await path.disconnected()
                cut.append(try await path.request(bolus.id))
            }
            #expect(cut.allSatisfy { $0.state == .uncertain })
            #expect(cut.allSatisfy { $0.history.last?.note?.contains("through phone PHONE-1") == true })
            let events = try #require(path.bed.gateway.events)
            let fired = await Self.time {
                (try? await events.store.alerts(limit: 10).contains { $0.rule == "phone_cuts_commands" }) ?? false
            }
            #expect(fired != nil, "phone_cuts_commands did not fire")
            let alert = try #require(
                try await events.store.alerts(limit: 10).first { $0.rule == "phone_cuts_commands" }
            )
            #expect(alert.subjectValue == "PHONE-1")
            #expect(alert.lockoutID != nil)
            #expect(alert.evidence.count == 2)
            let phones = path.bed.gateway.phones
            #expect(await Self.time { !(phones.phone("PHONE-1")?.connected ?? false) } != nil)
            let cutsBefore = hostile.counters[.truncate]
            // Through PHONE-2: the hello settles both cut boluses not applied; a third applies.
            let other = try await path.bed.running(try path.bed.relay(as: .phone(id: "PHONE-2")))
            let moved = path.session(telemetry: 1_000_000, firstTelemetry: 9_000, port: other.port)
            for request in cut {
                let settled = try await path.settled(request.id)
                #expect(settled.state == .notApplied)
                #expect(settled.history.last?.note?.contains("PHONE-1") == true)
            }
            let third = try await path.bolus(700)
            #expect(try await path.settled(third.id).state == .applied)
            #expect(hostile.counters[.truncate] == cutsBefore, "PHONE-1 cut again after its lockout")
            await moved.stop()
            await other.stop()
        }
    }
}

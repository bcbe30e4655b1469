import AuditLog
import ChangeRequests
import Foundation
import Testing
import TherapyModel

@Suite("per-pump command queue")
struct CommandQueueTests {
    let serial = StoreFixture.serial
    let now = StoreFixture.now

    /// Sends the next command of the pump and acknowledges it as applied; returns its sequence.
    func deliverNext(_ fixture: StoreFixture) async throws -> UInt64 {
        let next = try #require(try await fixture.store.next(for: serial, now: now))
        let sent = try await fixture.store.markSent(next.id, now: now)
        let sequence = try #require(sent.sequence)
        _ = try await fixture.store.markAcknowledged(serial: serial, sequence: sequence, outcome: .applied, now: now)
        return sequence
    }

    @Test("FIFO, one command in flight per pump, sequences 1, 2, 3 in send order", arguments: ChangeBackend.allCases)
    func fifoAndOneAtATime(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let first = try await fixture.submit(StoreFixture.bolus(1000))
        let second = try await fixture.submit(StoreFixture.bolus(2000))
        let third = try await fixture.submit(.suspend)
        _ = try await fixture.submit(StoreFixture.bolus(500), serial: "PUMP-0002")

        #expect(try await fixture.store.next(for: serial, now: now)?.id == first.id)
        let sent = try await fixture.store.markSent(first.id, now: now)
        #expect(sent.sequence == 1 && sent.state == .sent)
        #expect(try await fixture.store.request(first.id) == sent)
        let entry = try #require(try await fixture.entries().last)
        #expect(
            entry.event.kind == .commandSent
                && String(decoding: entry.event.payload, as: UTF8.self).contains(#""sequence":1"#)
        )

        #expect(try await fixture.store.next(for: serial, now: now) == nil)  // one at a time
        let busy = await changeError { _ = try await fixture.store.markSent(second.id, now: now) }
        #expect(busy?.code == .pumpBusy)
        #expect(try await fixture.store.next(for: "PUMP-0002", now: now) != nil)  // other pumps unaffected

        _ = try await fixture.store.markAcknowledged(serial: serial, sequence: 1, outcome: .applied, now: now)
        #expect(try await fixture.store.next(for: serial, now: now)?.id == second.id)
        #expect(try await deliverNext(fixture) == 2)
        #expect(try await fixture.store.next(for: serial, now: now)?.id == third.id)
        #expect(try await deliverNext(fixture) == 3)
        #expect(try await fixture.store.next(for: serial, now: now) == nil)
        #expect(try await fixture.store.lastSequence(for: "PUMP-0002") == 0)
    }

    @Test("sequence numbers keep increasing across reopening and are never lowered", arguments: ChangeBackend.allCases)
    func sequencesSurviveReopen(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        for _ in 0..<3 { _ = try await fixture.submit() }
        for expected in 1...2 as ClosedRange<UInt64> { #expect(try await deliverNext(fixture) == expected) }

        let reopened = try await fixture.restarted()
        _ = try await reopened.store.recover(now: now)
        #expect(try await reopened.store.lastSequence(for: serial) == 2)
        #expect(try await deliverNext(reopened) == 3)

        try await reopened.store.raiseSequence(for: serial, atLeast: 10)  // the pump reported 10
        try await reopened.store.raiseSequence(for: serial, atLeast: 4)  // never lowers
        _ = try await reopened.submit()
        #expect(try await deliverNext(reopened) == 11)
    }

    @Test("a refused command ends refused_by_pump with the pump's code", arguments: ChangeBackend.allCases)
    func refusedByPump(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let request = try await fixture.submit()
        let sequence = try #require(try await fixture.store.markSent(request.id, now: now).sequence)
        let refused = try await fixture.store.markAcknowledged(
            serial: serial,
            sequence: sequence,
            outcome: .refused(code: "pump_locked_out"),
            now: now
        )
        #expect(refused.state == .refusedByPump(code: "pump_locked_out"))
        #expect(refused.history.last?.to.refusalCode == "pump_locked_out")
        #expect(try await fixture.store.request(request.id)?.state.refusalCode == "pump_locked_out")
    }

    @Test(
        "a dropped session makes every sent command uncertain; nothing more is sent until it is settled",
        arguments: ChangeBackend.allCases
    )
    func uncertain(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let first = try await fixture.submit()
        let second = try await fixture.submit()
        _ = try await fixture.store.markSent(first.id, now: now)
        let marked = try await fixture.store.markUncertain(forSerial: serial, now: StoreFixture.later(1))
        #expect(marked.map(\.id) == [first.id] && marked.first?.state == .uncertain)
        #expect(try await fixture.store.request(first.id) == marked.first)
        #expect(try await fixture.entries().last?.event.kind == .commandUncertain)
        #expect(try await fixture.store.markUncertain(forSerial: serial, now: now).isEmpty)

        #expect(try await fixture.store.next(for: serial, now: now) == nil)
        let busy = await changeError { _ = try await fixture.store.markSent(second.id, now: now) }
        #expect(busy?.code == .pumpBusy)

        let settled = try await fixture.store.resolveUncertain(first.id, as: .notApplied, now: StoreFixture.later(2))
        #expect(settled.state == .notApplied)
        #expect(try await fixture.entries().last?.event.kind == .commandReconciled)
        #expect(try await fixture.store.next(for: serial, now: now)?.id == second.id)
        #expect(try await fixture.store.markSent(second.id, now: now).sequence == 2)  // 1 is never reused
    }

    @Test("a late acknowledgement settles an uncertain command as applied", arguments: ChangeBackend.allCases)
    func lateAcknowledgement(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let request = try await fixture.submit()
        let sequence = try #require(try await fixture.store.markSent(request.id, now: now).sequence)
        _ = try await fixture.store.markUncertain(forSerial: serial, now: now)
        let applied = try await fixture.store.markAcknowledged(
            serial: serial,
            sequence: sequence,
            outcome: .applied,
            now: now
        )
        #expect(applied.state == .applied)
        #expect(applied.history.map(\.to) == [.accepted, .queued, .sent, .uncertain, .applied])
        #expect(try await fixture.entries().last?.event.kind == .commandReconciled)
    }

    @Test(
        "expiry: a bolus expires after 5 minutes and is never sent; settings live longer",
        arguments: ChangeBackend.allCases
    )
    func expiry(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let bolus = try await fixture.submit(StoreFixture.bolus(1000))
        let schedule = try await fixture.submit(.setMaxBolus(Milliunits(8000)))
        #expect(try await fixture.store.expire(now: StoreFixture.later(4)).isEmpty)
        // The bolus is skipped: it is no longer deliverable.
        #expect(try await fixture.store.next(for: serial, now: StoreFixture.later(5))?.id == schedule.id)
        let expiredSend = await changeError {
            _ = try await fixture.store.markSent(bolus.id, now: StoreFixture.later(5))
        }
        #expect(expiredSend?.code == .commandExpired)

        let expired = try await fixture.store.expire(now: StoreFixture.later(5))
        #expect(expired.map(\.id) == [bolus.id] && expired.first?.state == .expired)
        #expect(try await fixture.entries().last?.event.kind == .commandExpired)
        #expect(try await fixture.store.expire(now: StoreFixture.later(60)).isEmpty)
        #expect(try await fixture.store.expire(now: StoreFixture.later(24 * 60)).map(\.id) == [schedule.id])
    }

    @Test("cancel before sending removes the command from the queue", arguments: ChangeBackend.allCases)
    func cancelBeforeSending(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let first = try await fixture.submit()
        let second = try await fixture.submit()
        let cancelled = try await fixture.store.cancel(first.id, by: ChangeActor(StoreFixture.patient), now: now)
        #expect(cancelled.state == .cancelled && cancelled.history.last?.from == .queued)
        #expect(try await fixture.store.next(for: serial, now: now)?.id == second.id)
        let send = await changeError { _ = try await fixture.store.markSent(first.id, now: now) }
        #expect(send?.code == .illegalTransition && send?.from == .cancelled)
    }

    @Test("listing by pump, newest first, and unfinished requests", arguments: ChangeBackend.allCases)
    func listing(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let old = try await fixture.submit(at: now)
        let new = try await fixture.submit(at: StoreFixture.later(1))
        let done = try await fixture.submit(decision: StoreFixture.reject, at: StoreFixture.later(2))
        #expect(try await fixture.store.requests(forPump: serial).map(\.id) == [done.id, new.id, old.id])
        #expect(try await fixture.store.requests(forPump: serial, limit: 1).map(\.id) == [done.id])
        #expect(try await fixture.store.unfinishedRequests().map(\.id) == [old.id, new.id])
    }

    @Test(
        "many pumps at once: steps share store commits, each pump's sequences are 1...n, all durable",
        arguments: ChangeBackend.allCases
    )
    func concurrentPumps(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let pumps = 40
        let perPump = 3
        try await withThrowingTaskGroup(of: Void.self) { group in
            for pump in 0..<pumps {
                group.addTask {
                    let serial = "PUMP-\(pump)"
                    for expected in 1...UInt64(perPump) {
                        let request = try await fixture.submit(serial: serial)
                        let sent = try await fixture.store.markSent(request.id, now: StoreFixture.now)
                        #expect(sent.sequence == expected)
                        let applied = try await fixture.store.markAcknowledged(
                            serial: serial,
                            sequence: expected,
                            outcome: .applied,
                            now: StoreFixture.now
                        )
                        #expect(applied.state == .applied)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await fixture.audit.storedSize() == UInt64(pumps * perPump * 3))
        let commits = await fixture.store.commitCount
        #expect(commits < UInt64(pumps * perPump * 3), "\(commits) store commits for \(pumps * perPump * 3) steps")
        let restarted = try await fixture.restarted()
        let report = try await restarted.store.recover(now: StoreFixture.now)
        #expect(report.rolledForward.isEmpty && report.problems.isEmpty && report.unfinished.isEmpty)
        for pump in 0..<pumps {
            let requests = try await restarted.store.requests(forPump: "PUMP-\(pump)")
            #expect(requests.count == perPump && requests.allSatisfy { $0.state == .applied })
            #expect(Set(requests.compactMap(\.sequence)) == Set(1...UInt64(perPump)))
        }
    }
}

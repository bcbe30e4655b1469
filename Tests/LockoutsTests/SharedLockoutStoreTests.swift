import AuditLog
import AuditPostgres
import Foundation
import Logging
import StoresPostgres
import Testing

@testable import Lockouts

/// The lockout store shared by several gateway nodes on one PostgreSQL database: each node has
/// its own `LockoutStore` and `AuditLog` (its own connections), as two processes would.
@Suite("lockout store shared by several nodes (PostgreSQL)")
struct SharedLockoutStoreTests {
    typealias Fixture = LockoutFixture

    @Test("a lockout started on one node is in force on the other once it reads the lockouts again")
    func startSeenByTheOtherNode() async throws {
        let nodeA = try await Fixture.make(.postgres)
        let nodeB = try await nodeA.reopened()
        try await nodeB.store.notePump(PumpAttributes(serial: "P1", model: "MT-200"), now: Fixture.now)
        #expect(await nodeB.store.order(for: PumpAttributes(serial: "P1")) == .unlocked)

        let lockout = try await nodeA.start(.model("MT-200"), suspend: true)
        try await nodeB.store.refresh()
        #expect(await nodeB.store.active() == [lockout])
        #expect(
            await nodeB.store.order(for: PumpAttributes(serial: "P1"))
                == .locked(suspendDelivery: true, lockouts: [lockout.id])
        )
        // The pump directory is shared too: node A knows the pump node B recorded.
        try await nodeA.store.refresh()
        #expect(await nodeA.store.pumps(coveredBy: lockout.scope).map(\.serial) == ["P1"])
    }

    @Test("two incident users confirming one lift on two nodes at once: lifted once, one lockout.lifted entry")
    func liftConfirmationsRace() async throws {
        let nodeA = try await Fixture.make(.postgres)
        let nodeB = try await nodeA.reopened()
        var ids: [LockoutID] = []
        for pump in 0..<8 {
            let lockout = try await nodeA.start(.pump("P\(pump)"))
            _ = try await nodeA.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now + 1)
            ids.append(lockout.id)
        }
        // Node B's view is current: each confirmation passes the check before its step, and only
        // the one under the head lock can refuse it.
        try await nodeB.store.refresh()
        let outcomes = await withTaskGroup(of: (LockoutID, String, LockoutError?).self) { group in
            for id in ids {
                group.addTask {
                    do throws(LockoutError) {
                        _ = try await nodeA.store.confirmLift(id, by: Fixture.bob, now: Fixture.now + 2)
                        return (id, "bob", nil)
                    } catch {
                        return (id, "bob", error)
                    }
                }
                group.addTask {
                    do throws(LockoutError) {
                        _ = try await nodeB.store.confirmLift(id, by: Fixture.carol, now: Fixture.now + 2)
                        return (id, "carol", nil)
                    } catch {
                        return (id, "carol", error)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let entries = try await nodeA.entries()
        try await nodeA.store.refresh()
        for id in ids {
            let mine = outcomes.filter { $0.0 == id }
            let won = mine.filter { $0.2 == nil }
            #expect(won.count == 1, "\(id): \(mine)")
            for loser in mine where loser.2 != nil {
                #expect(loser.2 == Fixture.error(.alreadyLifted), "\(id): \(String(describing: loser.2))")
            }
            let lifted = entries.compactMap { LockoutAuditRecord($0) }.filter {
                $0.op == .lift && $0.lockoutId == id.rawValue
            }
            #expect(lifted.count == 1)
            let stored = try #require(await nodeA.store.lockout(id))
            #expect(stored.lifted?.actorID == won.first?.1)
            let entry = try await nodeA.audit.entry(at: try #require(stored.lifted?.auditIndex))
            #expect(entry.event.kind == .lockoutLifted && entry.event.actor.id == won.first?.1)
        }
    }

    @Test("a step another node made illegal is refused with its own error and writes nothing")
    func staleStepsRefused() async throws {
        let nodeA = try await Fixture.make(.postgres)
        let nodeB = try await nodeA.reopened()
        let lockout = try await nodeA.start(.patient("patient-001"))
        try await nodeB.store.refresh()

        _ = try await nodeA.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now + 1)
        let size = try await nodeA.audit.storedSize()
        await #expect(throws: Fixture.error(.liftAlreadyRequested)) {
            _ = try await nodeB.store.requestLift(lockout.id, by: Fixture.bob, now: Fixture.now + 2)
        }
        // Node B's view said nobody asked; the database said alice did, and she cannot confirm.
        await #expect(throws: Fixture.error(.samePerson)) {
            _ = try await nodeB.store.confirmLift(lockout.id, by: Fixture.alice, now: Fixture.now + 2)
        }
        _ = try await nodeA.store.confirmLift(lockout.id, by: Fixture.bob, now: Fixture.now + 3)
        let lifted = try await nodeA.audit.storedSize()
        #expect(lifted == size + 1)
        await #expect(throws: Fixture.error(.alreadyLifted)) {
            _ = try await nodeB.store.confirmLift(lockout.id, by: Fixture.carol, now: Fixture.now + 4)
        }
        await #expect(throws: Fixture.error(.alreadyLifted)) {
            _ = try await nodeB.store.requestLift(lockout.id, by: Fixture.carol, now: Fixture.now + 4)
        }
        #expect(try await nodeA.audit.storedSize() == lifted)
        // A lockout only another node started is found, not refused as unknown.
        let other = try await nodeA.start(.all)
        _ = try await nodeB.store.requestLift(other.id, by: Fixture.carol, now: Fixture.now + 5)
        #expect(await nodeB.store.lockout(other.id)?.liftRequested?.actorID == "carol")
    }

    @Test("the recheck under the lock refuses what the node's own view allowed")
    func recheckUnderTheLock() async throws {
        let nodeA = try await Fixture.make(.postgres)
        let nodeB = try await nodeA.reopened()
        let lockout = try await nodeA.start(.pump("P1"))
        _ = try await nodeA.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now + 1)
        try await nodeB.store.refresh()
        _ = try await nodeA.store.confirmLift(lockout.id, by: Fixture.bob, now: Fixture.now + 2)
        let size = try await nodeA.audit.storedSize()
        // Node B still believes the lift is only asked for; its step goes straight to the lock.
        var record = LockoutAuditRecord(op: .lift, at: Fixture.now + 3)
        record.lockoutId = lockout.id.rawValue
        record.requestedBy = "alice"
        await #expect(throws: Fixture.error(.alreadyLifted)) {
            try await nodeB.store.step(record, actor: Fixture.carol)
        }
        #expect(try await nodeA.audit.storedSize() == size)
        #expect(await nodeB.store.lockout(lockout.id)?.lifted?.actorID == "bob")
    }

    @Test("a step's entry and its rows commit together: killed before the commit, neither is there")
    func entryAndRowsTogether() async throws {
        let fixture = try await Fixture.make(.postgres)
        try await fixture.start(.pump("P1"))
        let size = try await fixture.audit.storedSize()
        await fixture.store.simulateCrashBeforeCommit()
        await #expect(throws: Fixture.error(.storageFailure)) { try await fixture.start(.pump("P2")) }
        #expect(await fixture.store.all().count == 1, "the lockouts in memory are as committed")

        let restarted = try await fixture.reopened()
        #expect(try await restarted.audit.storedSize() == size)
        #expect(await restarted.store.all().map(\.scope) == [.pump("P1")])
        #expect(try await restarted.store.recover() == [:])
        // Started again, it is recorded once.
        try await restarted.start(.pump("P2"))
        #expect(try await restarted.audit.storedSize() == size + 1)
    }

    @Test("lockout commands sent from two nodes to one pump never share a sequence")
    func sequencesAcrossNodes() async throws {
        let nodeA = try await Fixture.make(.postgres)
        let nodeB = try await nodeA.reopened()
        let lockout = try await nodeA.start(.pump("P1"))
        let sent = try await withThrowingTaskGroup(of: LockoutSent.self) { group in
            for node in [nodeA, nodeB] {
                for _ in 0..<10 {
                    group.addTask {
                        try await node.store.recordSentTakingSequence(
                            serial: "P1",
                            command: .start,
                            lockouts: [lockout.id],
                            now: Fixture.now + 1
                        )
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(sent.map(\.sequence).sorted() == Array(1...20))
        // A send recorded with a number of its own keeps the counter past it.
        try await nodeA.store.recordSent(
            serial: "P1",
            sequence: 30,
            command: .start,
            lockouts: [lockout.id],
            now: Fixture.now + 2
        )
        let next = try await nodeB.store.recordSentTakingSequence(
            serial: "P1",
            command: .start,
            lockouts: [lockout.id],
            now: Fixture.now + 3
        )
        #expect(next.sequence == 31)
        for one in sent {
            let record = try await nodeB.record(at: one.auditIndex, kind: .lockoutSent)
            #expect(record.sequence == one.sequence && record.serial == "P1")
        }
        // A SQLite store has no shared counter to take from.
        let sqlite = try await Fixture.make(.sqlite)
        await #expect(throws: Fixture.error(.storageFailure)) {
            _ = try await sqlite.store.recordSentTakingSequence(
                serial: "P1",
                command: .start,
                lockouts: [lockout.id],
                now: Fixture.now
            )
        }
    }

    // The limit only keeps a lost notification from holding the run: in the loaded parallel
    // phase (every suite's databases created and migrated at once) one minute was not enough
    // for the fixture and three steps.
    @Test("a lockout step notifies every node with the lockout's id, once committed", .timeLimit(.minutes(3)))
    func stepsNotify() async throws {
        let fixture = try await Fixture.make(.postgres)
        let url = try #require(fixture.postgresURL)
        let payloads = try await PostgresNotifications.payloads(
            channel: LockoutStore.lockoutChannel,
            url: url,
            logger: Logger(label: "test")
        )
        let lockout = try await fixture.start(.all)
        _ = try await fixture.store.recordSentTakingSequence(
            serial: "P1",
            command: .start,
            lockouts: [lockout.id],
            now: Fixture.now
        )
        _ = try await fixture.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now + 1)
        var received: [String] = []
        for try await payload in payloads {
            received.append(payload)
            if received.count == 2 { break }
        }
        // The send is not notified: nothing for other nodes to redo.
        #expect(received == [lockout.id.rawValue, lockout.id.rawValue])
    }
}

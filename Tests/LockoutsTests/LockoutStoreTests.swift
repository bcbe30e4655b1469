import AuditLog
import Foundation
import Testing

@testable import Lockouts

@Suite("LockoutStore")
struct LockoutStoreTests {
    typealias Fixture = LockoutFixture

    // MARK: Start

    @Test(arguments: LockoutBackend.allCases)
    func aStartIsAuditedWithItsScopeAndReasonBeforeItIsStored(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let sizeBefore = await fixture.audit.size
        let lockout = try await fixture.start(.model("MT-200"), reason: "  bad batch  ", suspend: true)

        #expect(lockout.scope == .model("MT-200"))
        #expect(lockout.reason == "bad batch")
        #expect(lockout.suspendDelivery)
        #expect(lockout.isActive)
        #expect(lockout.stateName == "active")
        #expect(lockout.started.actorID == "alice")
        #expect(lockout.started.actorRole == "incident")
        #expect(lockout.started.atMilliseconds == Fixture.now)

        // The step names the audit entry that records it: `lockout.started`, by alice, with
        // everything needed to redo it.
        #expect(lockout.started.auditIndex == sizeBefore)
        let entry = try await fixture.audit.entry(at: lockout.started.auditIndex)
        #expect(entry.event.kind == .lockoutStarted)
        #expect(entry.event.actor == Fixture.alice)
        let record = try #require(LockoutAuditRecord(entry))
        #expect(record.op == .start)
        #expect(record.lockoutId == lockout.id.rawValue)
        #expect(record.scope == "model:MT-200")
        #expect(record.reason == "bad batch")
        #expect(record.suspendDelivery == true)

        #expect(await fixture.store.lockout(lockout.id) == lockout)
        #expect(await fixture.store.active() == [lockout])
    }

    @Test(arguments: ["", "   ", "\n\t "])
    func aStartWithoutAReasonIsRefusedAndNothingIsAudited(reason: String) async throws {
        let fixture = try await Fixture.make()
        let sizeBefore = await fixture.audit.size
        await #expect(throws: Fixture.error(.emptyReason)) {
            try await fixture.start(.all, reason: reason)
        }
        #expect(await fixture.audit.size == sizeBefore)
        #expect(await fixture.store.all().isEmpty)
    }

    @Test(arguments: LockoutBackend.allCases)
    func aReasonOverTheMaximumIsRefused(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let reason = String(repeating: "r", count: Lockout.maximumReasonLength + 1)
        await #expect(throws: Fixture.error(.emptyReason)) { try await fixture.start(.all, reason: reason) }
        #expect(await fixture.store.all().isEmpty)
    }

    // MARK: The two-person lift

    @Test(arguments: LockoutBackend.allCases)
    func aLiftAskedByOneAndConfirmedByAnotherEndsTheLockout(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.pump("P1"))

        let requested = try await fixture.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now + 1)
        #expect(requested.stateName == "lift_requested")
        #expect(requested.isActive)
        #expect(requested.liftRequested?.actorID == "alice")
        let requestRecord = try await fixture.record(
            at: try #require(requested.liftRequested?.auditIndex),
            kind: .lockoutLiftRequested
        )
        #expect(requestRecord.lockoutId == lockout.id.rawValue)

        let lifted = try await fixture.store.confirmLift(lockout.id, by: Fixture.bob, now: Fixture.now + 2)
        #expect(lifted.stateName == "lifted")
        #expect(!lifted.isActive)
        #expect(lifted.liftRequested?.actorID == "alice")
        #expect(lifted.lifted?.actorID == "bob")
        #expect(lifted.lifted?.atMilliseconds == Fixture.now + 2)
        let liftRecord = try await fixture.record(at: try #require(lifted.lifted?.auditIndex), kind: .lockoutLifted)
        #expect(liftRecord.lockoutId == lockout.id.rawValue)
        #expect(liftRecord.requestedBy == "alice")
        #expect(try await fixture.audit.entry(at: try #require(lifted.lifted?.auditIndex)).event.actor == Fixture.bob)

        #expect(await fixture.store.active().isEmpty)
        #expect(await fixture.store.lockout(lockout.id) == lifted)
    }

    @Test(arguments: LockoutBackend.allCases)
    func theOneWhoAskedCannotConfirm(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.pump("P1"))
        let requested = try await fixture.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now)
        let sizeBefore = await fixture.audit.size

        let error = try await #require(throws: Fixture.error(.samePerson)) {
            try await fixture.store.confirmLift(lockout.id, by: Fixture.alice, now: Fixture.now + 1)
        }
        #expect(error.reason.contains("alice"))
        #expect(await fixture.store.lockout(lockout.id) == requested)
        #expect(await fixture.store.active().map(\.id) == [lockout.id])
        #expect(await fixture.audit.size == sizeBefore)
    }

    @Test(arguments: LockoutBackend.allCases)
    func aConfirmationWithoutARequestIsRefused(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.pump("P1"))
        await #expect(throws: Fixture.error(.liftNotRequested)) {
            try await fixture.store.confirmLift(lockout.id, by: Fixture.bob, now: Fixture.now)
        }
        #expect(await fixture.store.lockout(lockout.id) == lockout)
    }

    @Test(arguments: LockoutBackend.allCases)
    func aSecondLiftRequestIsRefused(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.pump("P1"))
        let requested = try await fixture.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now)
        await #expect(throws: Fixture.error(.liftAlreadyRequested)) {
            try await fixture.store.requestLift(lockout.id, by: Fixture.bob, now: Fixture.now + 1)
        }
        #expect(await fixture.store.lockout(lockout.id) == requested)
    }

    @Test(arguments: LockoutBackend.allCases)
    func aLiftedLockoutCannotBeLiftedAgain(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.pump("P1"))
        _ = try await fixture.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now)
        let lifted = try await fixture.store.confirmLift(lockout.id, by: Fixture.bob, now: Fixture.now)

        await #expect(throws: Fixture.error(.alreadyLifted)) {
            try await fixture.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now)
        }
        await #expect(throws: Fixture.error(.alreadyLifted)) {
            try await fixture.store.confirmLift(lockout.id, by: Fixture.bob, now: Fixture.now)
        }
        #expect(await fixture.store.lockout(lockout.id) == lifted)
    }

    @Test(arguments: LockoutBackend.allCases)
    func anUnknownLockoutIsNotFound(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let unknown = try #require(LockoutID("lck_00000000000000ff"))
        await #expect(throws: Fixture.error(.notFound)) {
            try await fixture.store.requestLift(unknown, by: Fixture.alice, now: Fixture.now)
        }
        await #expect(throws: Fixture.error(.notFound)) {
            try await fixture.store.confirmLift(unknown, by: Fixture.bob, now: Fixture.now)
        }
    }

    // MARK: Orders

    @Test(arguments: LockoutBackend.allCases)
    func overlappingLockoutsMakeOneOrderInStartOrder(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let pump = PumpAttributes(serial: "P1", patient: "patient-001", model: "MT-200", firmware: "2.4.1")
        let byModel = try await fixture.start(.model("MT-200"), suspend: false)
        let bySerial = try await fixture.start(.pump("P1"), suspend: false)
        _ = try await fixture.start(.patient("patient-002"), suspend: true)  // another patient's
        _ = try await fixture.start(.phone("phone-7"), suspend: true)  // covers no pump

        #expect(
            await fixture.store.order(for: pump)
                == .locked(suspendDelivery: false, lockouts: [byModel.id, bySerial.id])
        )

        // One lockout that suspends makes the order suspend.
        let suspending = try await fixture.start(.firmware("2.4.1"), suspend: true)
        #expect(
            await fixture.store.order(for: pump)
                == .locked(suspendDelivery: true, lockouts: [byModel.id, bySerial.id, suspending.id])
        )

        // Lifted lockouts no longer count.
        for lockout in [byModel, suspending] {
            _ = try await fixture.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now)
            _ = try await fixture.store.confirmLift(lockout.id, by: Fixture.bob, now: Fixture.now)
        }
        #expect(await fixture.store.order(for: pump) == .locked(suspendDelivery: false, lockouts: [bySerial.id]))

        _ = try await fixture.store.requestLift(bySerial.id, by: Fixture.bob, now: Fixture.now)
        _ = try await fixture.store.confirmLift(bySerial.id, by: Fixture.alice, now: Fixture.now)
        #expect(await fixture.store.order(for: pump) == .unlocked)
    }

    @Test(arguments: LockoutBackend.allCases)
    func thePumpDirectoryFillsInWhatTheCallerDoesNotKnow(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.model("MT-200"))
        #expect(await fixture.store.order(for: PumpAttributes(serial: "P1")) == .unlocked)

        try await fixture.store.notePump(PumpAttributes(serial: "P1", model: "MT-200"), now: Fixture.now)
        #expect(
            await fixture.store.order(for: PumpAttributes(serial: "P1"))
                == .locked(suspendDelivery: false, lockouts: [lockout.id])
        )
        // What the caller knows wins: the pump announced another model since.
        #expect(await fixture.store.order(for: PumpAttributes(serial: "P1", model: "MT-300")) == .unlocked)
    }

    @Test(arguments: LockoutBackend.allCases)
    func phoneLockoutsShutOutPhonesWhileActive(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.phone("phone-7"))
        _ = try await fixture.start(.pump("P1"))
        #expect(await fixture.store.lockedOutPhones() == ["phone-7"])
        _ = try await fixture.store.requestLift(lockout.id, by: Fixture.alice, now: Fixture.now)
        _ = try await fixture.store.confirmLift(lockout.id, by: Fixture.bob, now: Fixture.now)
        #expect(await fixture.store.lockedOutPhones().isEmpty)
    }

    // MARK: The pump directory

    @Test(arguments: LockoutBackend.allCases)
    func notingAPumpMergesItsAttributes(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        try await fixture.store.notePump(PumpAttributes(serial: "P1", patient: "patient-001"), now: Fixture.now)
        try await fixture.store.notePump(
            PumpAttributes(serial: "P1", model: "MT-200", firmware: "2.4.1"),
            now: Fixture.now + 1
        )
        #expect(
            await fixture.store.attributes(of: "P1")
                == PumpAttributes(serial: "P1", patient: "patient-001", model: "MT-200", firmware: "2.4.1")
        )

        // A newer value replaces the old; nil keeps it.
        try await fixture.store.notePump(PumpAttributes(serial: "P1", firmware: "2.5.0"), now: Fixture.now + 2)
        #expect(
            await fixture.store.attributes(of: "P1")
                == PumpAttributes(serial: "P1", patient: "patient-001", model: "MT-200", firmware: "2.5.0")
        )
        #expect(await fixture.store.attributes(of: "P2") == PumpAttributes(serial: "P2"))
    }

    @Test(arguments: LockoutBackend.allCases)
    func theDirectoryListsThePumpsAScopeCovers(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        try await fixture.store.notePump(PumpAttributes(serial: "P2", model: "MT-200"), now: Fixture.now)
        try await fixture.store.notePump(PumpAttributes(serial: "P1", model: "MT-200"), now: Fixture.now)
        try await fixture.store.notePump(PumpAttributes(serial: "P3", model: "MT-300"), now: Fixture.now)
        #expect(await fixture.store.knownPumps().map(\.serial) == ["P1", "P2", "P3"])
        #expect(await fixture.store.pumps(coveredBy: .model("MT-200")).map(\.serial) == ["P1", "P2"])
        #expect(await fixture.store.pumps(coveredBy: .phone("phone-7")).isEmpty)
    }

    // MARK: Commands sent and acknowledged

    @Test(arguments: LockoutBackend.allCases)
    func aSentLockoutCommandIsAudited(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.pump("P1"))
        let index = try await fixture.store.recordSent(
            serial: "P1",
            sequence: 12,
            command: .start,
            lockouts: [lockout.id],
            now: Fixture.now
        )
        let entry = try await fixture.audit.entry(at: index)
        #expect(entry.event.kind == .lockoutSent)
        #expect(entry.event.actor == LockoutStore.gateway)
        #expect(entry.event.pumpSerial == "P1")
        let record = try #require(LockoutAuditRecord(entry))
        #expect(record.sequence == 12)
        #expect(record.command == "start")
        #expect(record.lockoutIds == [lockout.id.rawValue])
    }

    @Test(arguments: LockoutBackend.allCases)
    func anAppliedStartListsThePumpAsAcknowledged(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let first = try await fixture.start(.model("MT-200"))
        let second = try await fixture.start(.pump("P1"))
        let index = try await fixture.store.recordAcknowledged(
            serial: "P1",
            sequence: 12,
            command: .start,
            lockouts: [first.id, second.id],
            result: "applied",
            evidence: [1, 2, 3],
            now: Fixture.now + 5
        )
        #expect(try await fixture.store.acknowledgements(of: first.id) == ["P1": Fixture.now + 5])
        #expect(try await fixture.store.acknowledgements(of: second.id) == ["P1": Fixture.now + 5])

        let entry = try await fixture.audit.entry(at: index)
        #expect(entry.event.kind == .lockoutAcknowledged)
        #expect(entry.event.actor == (try AuditActor(id: "P1", role: "pump")))
        let record = try #require(LockoutAuditRecord(entry))
        #expect(record.result == "applied")
        #expect(record.evidence == Data([1, 2, 3]).base64EncodedString())
    }

    @Test(arguments: LockoutBackend.allCases)
    func aRefusedStartIsNotAnAcknowledgement(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.pump("P1"))
        try await fixture.store.recordAcknowledged(
            serial: "P1",
            sequence: 12,
            command: .start,
            lockouts: [lockout.id],
            result: "bad_signature",
            evidence: [],
            now: Fixture.now
        )
        #expect(try await fixture.store.acknowledgements(of: lockout.id).isEmpty)
    }

    @Test(arguments: LockoutBackend.allCases)
    func anAppliedLiftIsNotAnAcknowledgementOfTheStart(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.pump("P1"))
        try await fixture.store.recordAcknowledged(
            serial: "P1",
            sequence: 13,
            command: .lift,
            lockouts: [lockout.id],
            result: "applied",
            evidence: [],
            now: Fixture.now
        )
        #expect(try await fixture.store.acknowledgements(of: lockout.id).isEmpty)
    }

    @Test(arguments: LockoutBackend.allCases)
    func theFirstApplicationIsKept(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let lockout = try await fixture.start(.pump("P1"))
        for (sequence, at) in [(UInt64(12), Fixture.now + 1), (14, Fixture.now + 9)] {
            try await fixture.store.recordAcknowledged(
                serial: "P1",
                sequence: sequence,
                command: .start,
                lockouts: [lockout.id],
                result: "applied",
                evidence: [],
                now: at
            )
        }
        #expect(try await fixture.store.acknowledgements(of: lockout.id) == ["P1": Fixture.now + 1])
    }

    // MARK: Persistence

    @Test(arguments: LockoutBackend.allCases)
    func aReopenedStoreFindsLockoutsAcknowledgementsAndPumps(_ backend: LockoutBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let active = try await fixture.start(.model("MT-200"), suspend: true)
        let lifted = try await fixture.start(.pump("P9"), reason: "lost pump")
        _ = try await fixture.store.requestLift(lifted.id, by: Fixture.alice, now: Fixture.now + 1)
        let liftedNow = try await fixture.store.confirmLift(lifted.id, by: Fixture.bob, now: Fixture.now + 2)
        let requested = try await fixture.start(.phone("phone-7"))
        let requestedNow = try await fixture.store.requestLift(requested.id, by: Fixture.bob, now: Fixture.now + 3)
        try await fixture.store.recordAcknowledged(
            serial: "P1",
            sequence: 3,
            command: .start,
            lockouts: [active.id],
            result: "applied",
            evidence: [],
            now: Fixture.now + 4
        )
        try await fixture.store.notePump(
            PumpAttributes(serial: "P1", patient: "patient-001", model: "MT-200", firmware: "2.4.1"),
            now: Fixture.now
        )

        let reopened = try await fixture.reopened()
        #expect(await reopened.store.all() == [requestedNow, liftedNow, active])
        #expect(await reopened.store.active() == [active, requestedNow])
        #expect(try await reopened.store.acknowledgements(of: active.id) == ["P1": Fixture.now + 4])
        #expect(
            await reopened.store.knownPumps()
                == [PumpAttributes(serial: "P1", patient: "patient-001", model: "MT-200", firmware: "2.4.1")]
        )
        #expect(
            await reopened.store.order(for: PumpAttributes(serial: "P1"))
                == .locked(suspendDelivery: true, lockouts: [active.id])
        )
        // Nothing to roll forward: every step was stored.
        #expect(try await reopened.store.recover() == [:])
        #expect(await reopened.store.all() == [requestedNow, liftedNow, active])
    }
}

import AuditLog
import Foundation
import Testing

@testable import Lockouts

/// A gateway that crashed after an append and before the store's commit: the entries are in the
/// log only, and `recover()` rolls them forward.
@Suite("LockoutStore recovery")
struct LockoutRecoveryTests {
    typealias Fixture = LockoutFixture

    static let lockoutID = LockoutID("lck_00000000000000a1")!
    static let gateway = try! AuditActor(id: "gateway", role: "system")
    static let pump = try! AuditActor(id: "P1", role: "pump")

    static func startRecord() -> LockoutAuditRecord {
        var record = LockoutAuditRecord(op: .start, at: Fixture.now)
        record.lockoutId = lockoutID.rawValue
        record.scope = "model:MT-200"
        record.reason = "bad batch"
        record.suspendDelivery = true
        return record
    }

    static func liftRecord(_ op: LockoutAuditRecord.Operation, at: Int64) -> LockoutAuditRecord {
        var record = LockoutAuditRecord(op: op, at: at)
        record.lockoutId = lockoutID.rawValue
        if op == .lift { record.requestedBy = "alice" }
        return record
    }

    static func sentRecord(serial: String, sequence: UInt64) -> LockoutAuditRecord {
        var record = LockoutAuditRecord(op: .sent, at: Fixture.now)
        record.serial = serial
        record.sequence = sequence
        record.command = "start"
        record.lockoutIds = [lockoutID.rawValue]
        return record
    }

    static func acknowledgedRecord(serial: String, sequence: UInt64, result: String, at: Int64) -> LockoutAuditRecord {
        var record = LockoutAuditRecord(op: .acknowledged, at: at)
        record.serial = serial
        record.sequence = sequence
        record.command = "start"
        record.lockoutIds = [lockoutID.rawValue]
        record.result = result
        return record
    }

    /// The log of a gateway that crashed before storing anything: a start, lockout commands to
    /// two pumps, and their answers. Returns the start's audit index.
    static func appendCrashedHistory(to fixture: Fixture) async throws -> UInt64 {
        let started = try await fixture.appendDirectly(startRecord(), by: Fixture.alice)
        try await fixture.appendDirectly(sentRecord(serial: "P1", sequence: 4), by: gateway)
        try await fixture.appendDirectly(sentRecord(serial: "P1", sequence: 9), by: gateway)
        try await fixture.appendDirectly(sentRecord(serial: "P1", sequence: 7), by: gateway)
        try await fixture.appendDirectly(sentRecord(serial: "P2", sequence: 3), by: gateway)
        try await fixture.appendDirectly(
            acknowledgedRecord(serial: "P1", sequence: 9, result: "applied", at: Fixture.now + 9),
            by: pump
        )
        try await fixture.appendDirectly(
            acknowledgedRecord(serial: "P2", sequence: 3, result: "bad_signature", at: Fixture.now + 3),
            by: try AuditActor(id: "P2", role: "pump")
        )
        return started
    }

    @Test func recoveryRollsForwardWhatOnlyTheLogHas() async throws {
        let fixture = try await Fixture.make()
        let started = try await Self.appendCrashedHistory(to: fixture)
        #expect(await fixture.store.lockout(Self.lockoutID) == nil)

        let restarted = try await fixture.reopened()
        let sent = try await restarted.store.recover()
        // The highest sequence sent per pump, whatever the order of the entries.
        #expect(sent == ["P1": 9, "P2": 3])

        let lockout = try #require(await restarted.store.lockout(Self.lockoutID))
        #expect(lockout.scope == .model("MT-200"))
        #expect(lockout.reason == "bad batch")
        #expect(lockout.suspendDelivery)
        #expect(lockout.started.actorID == "alice")
        #expect(lockout.started.auditIndex == started)
        #expect(lockout.stateName == "active")
        // Only the applied start is an acknowledgement.
        #expect(try await restarted.store.acknowledgements(of: Self.lockoutID) == ["P1": Fixture.now + 9])

        // And it was stored, not just kept in memory: a further restart finds it without recovering.
        let again = try await restarted.reopened()
        #expect(await again.store.lockout(Self.lockoutID) == lockout)
        #expect(try await again.store.recover() == [:])
        #expect(try await again.store.acknowledgements(of: Self.lockoutID) == ["P1": Fixture.now + 9])
    }

    @Test func recoveryRollsAnUnstoredLiftForward() async throws {
        let fixture = try await Fixture.make()
        let lockout = try await fixture.start(.pump("P1"))
        var request = LockoutAuditRecord(op: .liftRequest, at: Fixture.now + 1)
        request.lockoutId = lockout.id.rawValue
        let requestIndex = try await fixture.appendDirectly(request, by: Fixture.alice)
        var lift = LockoutAuditRecord(op: .lift, at: Fixture.now + 2)
        lift.lockoutId = lockout.id.rawValue
        lift.requestedBy = "alice"
        let liftIndex = try await fixture.appendDirectly(lift, by: Fixture.bob)

        let restarted = try await fixture.reopened()
        #expect(await restarted.store.lockout(lockout.id)?.stateName == "active")
        _ = try await restarted.store.recover()

        let recovered = try #require(await restarted.store.lockout(lockout.id))
        #expect(recovered.started == lockout.started)
        #expect(recovered.liftRequested?.actorID == "alice")
        #expect(recovered.liftRequested?.auditIndex == requestIndex)
        #expect(recovered.lifted?.actorID == "bob")
        #expect(recovered.lifted?.auditIndex == liftIndex)
        #expect(await restarted.store.active().isEmpty)
    }

    @Test func applyingTheSameEntriesTwiceChangesNothing() async throws {
        let fixture = try await Fixture.make()
        _ = try await Self.appendCrashedHistory(to: fixture)
        var request = Self.liftRecord(.liftRequest, at: Fixture.now + 20)
        try await fixture.appendDirectly(request, by: Fixture.alice)
        try await fixture.appendDirectly(Self.liftRecord(.lift, at: Fixture.now + 21), by: Fixture.bob)
        // A second request and start for the same lockout, as a replayed entry would look.
        request.at = Fixture.now + 30
        try await fixture.appendDirectly(request, by: Fixture.bob)
        try await fixture.appendDirectly(Self.startRecord(), by: Fixture.bob)

        let restarted = try await fixture.reopened()
        _ = try await restarted.store.recover()
        let lockouts = await restarted.store.all()
        let acknowledgements = try await restarted.store.acknowledgements(of: Self.lockoutID)
        let lockout = try #require(lockouts.first)
        #expect(lockouts.count == 1)
        // The first of each step counts.
        #expect(lockout.started.actorID == "alice")
        #expect(lockout.liftRequested?.actorID == "alice")
        #expect(lockout.liftRequested?.atMilliseconds == Fixture.now + 20)
        #expect(lockout.lifted?.actorID == "bob")

        // Every entry of the log applied once more, in memory and on disk.
        let size = try await restarted.audit.storedSize()
        for entry in try await restarted.audit.entries(in: 0..<size) {
            let record = try #require(LockoutAuditRecord(entry))
            try await restarted.store.apply(record, actor: entry.event.actor, auditIndex: entry.index)
        }
        #expect(await restarted.store.all() == lockouts)
        #expect(try await restarted.store.acknowledgements(of: Self.lockoutID) == acknowledgements)

        let again = try await restarted.reopened()
        #expect(await again.store.all() == lockouts)
        #expect(try await again.store.acknowledgements(of: Self.lockoutID) == acknowledgements)
    }

    @Test func recoveryIgnoresOtherEntriesAndMalformedLockoutEntries() async throws {
        let fixture = try await Fixture.make()
        // Not a lockout entry at all.
        _ = try await fixture.audit.append(
            try AuditEvent(
                timeMilliseconds: Fixture.now,
                actor: Fixture.alice,
                kind: .login,
                pumpSerial: nil,
                phoneID: nil,
                payload: Array("{}".utf8)
            )
        )
        // A start whose scope does not parse, and one with no id: nothing to redo.
        var badScope = Self.startRecord()
        badScope.scope = "serial:P1"
        try await fixture.appendDirectly(badScope, by: Fixture.alice)
        var noID = Self.startRecord()
        noID.lockoutId = nil
        try await fixture.appendDirectly(noID, by: Fixture.alice)
        // A lift of a lockout that does not exist.
        try await fixture.appendDirectly(Self.liftRecord(.lift, at: Fixture.now), by: Fixture.bob)

        let restarted = try await fixture.reopened()
        #expect(try await restarted.store.recover() == [:])
        #expect(await restarted.store.all().isEmpty)
    }
}

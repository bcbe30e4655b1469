import AuditLog
import Foundation
import SafetyPolicy
import Testing
import TherapyModel

@testable import ChangeRequests

@Suite("change-request recovery after a crash")
struct RecoveryTests {
    let serial = StoreFixture.serial
    let now = StoreFixture.now

    @Test("crash between the audit append and the store commit of a new request: redone from the log")
    func crashAfterAppendOnSubmit() async throws {
        let fixture = try await StoreFixture.make()
        await fixture.store.simulateCrash(at: .afterAuditAppend)
        let submission = ChangeSubmission(
            pumpSerial: serial,
            requester: StoreFixture.patient,
            idempotencyKey: "crash-1",
            change: StoreFixture.bolus(2000),
            decision: .accept
        )
        let crash = await changeError { _ = try await fixture.store.submit(submission, now: now) }
        #expect(crash?.code == .storeUnavailable)
        let logged = try #require(try await fixture.entries().last)
        #expect(logged.event.kind == .changeRequested)

        let restarted = try await fixture.restarted()
        #expect(try await restarted.store.request(requester: "alice", idempotencyKey: "crash-1") == nil)
        let report = try await restarted.store.recover(now: now)
        #expect(report.rolledForward == [logged.index])
        #expect(report.problems.isEmpty)
        let request = try #require(try await restarted.store.request(requester: "alice", idempotencyKey: "crash-1"))
        #expect(request.state == .queued && request.history.allSatisfy { $0.auditIndex == logged.index })
        #expect(report.unfinished.map(\.id) == [request.id])

        // The client's retry gets that request; nothing new is logged.
        let retry = try await restarted.store.submit(submission, now: StoreFixture.later(1))
        #expect(retry == .existing(request))
        #expect(try await restarted.entries().count == 1)
        // Recovering again changes nothing.
        let again = try await restarted.store.recover(now: now)
        #expect(again.rolledForward.isEmpty && again.scanned.isEmpty)
    }

    @Test(
        "crash after command.sent is logged, before it is stored: recovered as sent, then uncertain; its sequence is not reused"
    )
    func crashAfterAppendOnSend() async throws {
        let fixture = try await StoreFixture.make()
        let request = try await fixture.submit()
        _ = try await fixture.submit()
        await fixture.store.simulateCrash(at: .afterAuditAppend)
        let crash = await changeError { _ = try await fixture.store.markSent(request.id, now: now) }
        #expect(crash?.code == .storeUnavailable)
        // The dead instance refuses everything from now on.
        let dead = await changeError { _ = try await fixture.submit() }
        #expect(dead?.code == .storeUnavailable)

        let restarted = try await fixture.restarted()
        let report = try await restarted.store.recover(now: StoreFixture.later(1))
        #expect(report.rolledForward.count == 1)
        #expect(report.markedUncertain.map(\.id) == [request.id])
        let recovered = try #require(try await restarted.store.request(request.id))
        #expect(recovered.state == .uncertain && recovered.sequence == 1)
        #expect(recovered.history.map(\.to) == [.accepted, .queued, .sent, .uncertain])
        #expect(try await restarted.store.lastSequence(for: serial) == 1)
        #expect(try await restarted.store.next(for: serial, now: now) == nil)  // settle the uncertain one first

        _ = try await restarted.store.resolveUncertain(request.id, as: .notApplied, now: StoreFixture.later(2))
        let next = try #require(try await restarted.store.next(for: serial, now: now))
        #expect(try await restarted.store.markSent(next.id, now: now).sequence == 2)
    }

    @Test("a command sent when the gateway stopped is uncertain after restart (never re-sent)")
    func sentAtStop() async throws {
        let fixture = try await StoreFixture.make()
        let request = try await fixture.submit()
        _ = try await fixture.store.markSent(request.id, now: now)
        let restarted = try await fixture.restarted()
        let report = try await restarted.store.recover(now: StoreFixture.later(1))
        #expect(report.rolledForward.isEmpty)
        #expect(report.markedUncertain.map(\.id) == [request.id])
        #expect(try await restarted.entries().last?.event.kind == .commandUncertain)
        #expect(try await restarted.store.next(for: serial, now: now) == nil)
    }

    @Test("crash mid-approval: the approval is redone from the log")
    func crashAfterAppendOnApprove() async throws {
        let fixture = try await StoreFixture.make()
        let held = try await fixture.submit(decision: StoreFixture.needsApproval)
        await fixture.store.simulateCrash(at: .afterAuditAppend)
        _ = await changeError {
            _ = try await fixture.store.approve(held.id, by: StoreFixture.secondClinician, now: now)
        }
        let restarted = try await fixture.restarted()
        let report = try await restarted.store.recover(now: now)
        #expect(report.rolledForward.count == 1)
        let approved = try #require(try await restarted.store.request(held.id))
        #expect(approved.state == .queued && approved.approverID == "drjones")
        #expect(approved.history.last?.actor == StoreFixture.secondClinician)
    }

    @Test("a request whose audit entry is gone (log replaced) is quarantined and never sent")
    func rowWithoutAuditEntry() async throws {
        let fixture = try await StoreFixture.make()
        let request = try await fixture.submit()
        // Reopen the same store against an empty audit log elsewhere: the store's rows now point
        // at entries that do not exist.
        let otherDirectory = fixture.directory + "-other-log"
        let emptyLog = try await AuditLog.open(stateDirectory: otherDirectory)
        let store = try ChangeRequestStore(
            path: ChangeRequestStore.databasePath(stateDirectory: fixture.directory),
            audit: emptyLog
        )
        let report = try await store.recover(now: now)
        #expect(report.problems == [.auditEntryMissing(request.id, auditIndex: request.requestAuditIndex)])
        #expect(try await store.request(request.id)?.integrityProblem != nil)
        #expect(try await store.next(for: serial, now: now) == nil)
        let send = await changeError { _ = try await store.markSent(request.id, now: now) }
        #expect(send?.code == .quarantined)
    }

    @Test("therapy versions: audited, versioned, and redone from the log after a crash")
    func therapy() async throws {
        let fixture = try await StoreFixture.make()
        let clinician = ChangeActor(StoreFixture.clinician)
        let first = try await fixture.store.setTherapy(
            serial: serial,
            prescription: StoreFixture.prescription,
            model: StoreFixture.model,
            by: clinician,
            now: now
        )
        #expect(
            first.version == 1 && first.prescription == StoreFixture.prescription && first.model == StoreFixture.model
        )
        let entry = try #require(try await fixture.entries().last)
        #expect(entry.event.kind == .pumpTherapySet && first.auditIndex == entry.index)
        #expect(String(decoding: entry.event.payload, as: UTF8.self).contains(#""patientId":"patient-001""#))

        await fixture.store.simulateCrash(at: .afterAuditAppend)
        _ = await changeError {
            _ = try await fixture.store.setTherapy(
                serial: serial,
                prescription: StoreFixture.prescription,
                model: StoreFixture.model,
                by: clinician,
                now: StoreFixture.later(1)
            )
        }
        let restarted = try await fixture.restarted()
        #expect(try await restarted.store.therapy(for: serial)?.version == 1)
        let report = try await restarted.store.recover(now: now)
        #expect(report.rolledForward.count == 1)
        #expect(try await restarted.store.therapy(for: serial)?.version == 2)
        #expect(try await restarted.store.therapyHistory(for: serial).map(\.version) == [2, 1])
        #expect(try await restarted.store.therapy(for: "PUMP-0009") == nil)
    }
}

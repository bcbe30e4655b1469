import AuditLog
import Foundation
import Testing
import TherapyModel

@testable import ChangeRequests

@Suite("pump bindings: written in step with the audit log, recovered after a crash")
struct BindingRecoveryTests {
    let serial = StoreFixture.serial
    let now = StoreFixture.now
    let alice = ChangeActor(id: "alice", role: "patient")
    let drsmith = ChangeActor(id: "drsmith", role: "clinician")

    func pair(_ store: ChangeRequestStore, nonceHash: String = "hash-1") async throws -> PumpBinding {
        try await store.pair(
            serial: serial,
            patientID: "patient-001",
            phoneID: "PHONE-1",
            nonceHash: nonceHash,
            by: alice,
            now: now
        )
    }

    @Test("a pairing is audited (pump.paired with the nonce's hash) and stored with its audit index")
    func pairAudited() async throws {
        let fixture = try await StoreFixture.make()
        let binding = try await pair(fixture.store)
        #expect(binding.patientID == "patient-001" && binding.phoneID == "PHONE-1" && binding.boundBy == "alice")
        let entry = try #require(try await fixture.entries().last)
        #expect(entry.event.kind == .pumpPaired && entry.index == binding.auditIndex)
        #expect(entry.event.pumpSerial == serial && entry.event.phoneID == "PHONE-1")
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(entry.event.payload)) as? [String: Any])
        #expect(payload["nonceHash"] as? String == "hash-1" && payload["patientId"] as? String == "patient-001")
        #expect(try await fixture.store.isPairingNonceUsed("hash-1"))
    }

    @Test("a used nonce and a paired pump are refused, and nothing is logged for them")
    func refusals() async throws {
        let fixture = try await StoreFixture.make()
        _ = try await pair(fixture.store)
        let replay = await changeError { _ = try await pair(fixture.store) }
        #expect(replay?.code == .pairingCodeUsed)
        let again = await changeError { _ = try await pair(fixture.store, nonceHash: "hash-2") }
        #expect(again?.code == .pumpAlreadyPaired)
        #expect(try await fixture.entries().count == 1)
    }

    @Test("crash between the pump.paired append and the store commit: the binding is redone from the log")
    func crashAfterAppendOnPair() async throws {
        let fixture = try await StoreFixture.make()
        await fixture.store.simulateCrash(at: .afterAuditAppend)
        let crash = await changeError { _ = try await pair(fixture.store) }
        #expect(crash?.code == .storeUnavailable)
        let logged = try #require(try await fixture.entries().last)
        #expect(logged.event.kind == .pumpPaired)

        let restarted = try await fixture.restarted()
        #expect(try await restarted.store.binding(for: serial) == nil)
        let report = try await restarted.store.recover(now: now)
        #expect(report.rolledForward == [logged.index] && report.problems.isEmpty)
        let binding = try #require(try await restarted.store.binding(for: serial))
        #expect(binding.patientID == "patient-001" && binding.auditIndex == logged.index)
        #expect(try await restarted.store.isPairingNonceUsed("hash-1"))
        // Not half-bound: the code's retry is refused as used, and recovering again changes nothing.
        let retry = await changeError { _ = try await pair(restarted.store) }
        #expect(retry?.code == .pairingCodeUsed)
        let again = try await restarted.store.recover(now: now)
        #expect(again.rolledForward.isEmpty)
    }

    @Test("unpair and transfer requests and their completion survive a crash after the append")
    func crashAfterAppendOnUnpairAndTransfer() async throws {
        let fixture = try await StoreFixture.make()
        _ = try await pair(fixture.store)
        let pending = try await fixture.store.requestBindingChange(
            serial: serial,
            .transfer(toPatient: "patient-002"),
            by: drsmith,
            now: now
        )
        #expect(pending.action == .transfer(toPatient: "patient-002") && pending.requestedBy == drsmith)
        await fixture.store.simulateCrash(at: .afterAuditAppend)
        let crash = await changeError {
            _ = try await fixture.store.completeBindingChange(
                serial: serial,
                .transfer(toPatient: "patient-002"),
                by: alice,
                now: now
            )
        }
        #expect(crash?.code == .storeUnavailable)
        let restarted = try await fixture.restarted()
        #expect(try await restarted.store.binding(for: serial)?.patientID == "patient-001")
        let report = try await restarted.store.recover(now: now)
        #expect(report.rolledForward.count == 1 && report.problems.isEmpty)
        let binding = try #require(try await restarted.store.binding(for: serial))
        #expect(binding.patientID == "patient-002" && binding.phoneID == nil)
        #expect(try await restarted.store.pendingBindingChange(for: serial) == nil)

        _ = try await restarted.store.requestBindingChange(serial: serial, .unpair, by: alice, now: now)
        let unpaired = try await restarted.store.completeBindingChange(serial: serial, .unpair, by: drsmith, now: now)
        #expect(unpaired == nil)
        let kinds = try await restarted.entries().map(\.event.kind)
        #expect(
            kinds == [.pumpPaired, .pumpTransferRequested, .pumpTransferred, .pumpUnpairRequested, .pumpUnpaired]
        )
    }
}

import AuditLog
import ChangeRequests
import Foundation
import SafetyPolicy
import Testing
import TherapyJSON
import TherapyModel

@Suite("change requests: recording, idempotency, approval")
struct ChangeRequestStoreTests {
    @Test(
        "an accepted change is audited first, then recorded queued with that audit index and its expiry",
        arguments: ChangeBackend.allCases
    )
    func acceptedIsQueued(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let request = try await fixture.submit(StoreFixture.bolus(2000), key: "k-1")
        #expect(request.state == .queued)
        #expect(request.history.map(\.to) == [.accepted, .queued])
        #expect(request.history.map(\.from) == [nil, .accepted])
        let entry = try #require(try await fixture.entries().last)
        #expect(entry.event.kind == .changeRequested && entry.event.pumpSerial == StoreFixture.serial)
        #expect(entry.event.actor.id == "alice" && entry.event.actor.role == "patient")
        #expect(request.history.allSatisfy { $0.auditIndex == entry.index })
        #expect(request.requestAuditIndex == entry.index && request.authorizingAuditIndex == entry.index)
        let payload = String(decoding: entry.event.payload, as: UTF8.self)
        #expect(payload.contains(request.id.rawValue) && payload.contains(#""milliunits":2000"#))
        #expect(request.expiresAt == StoreFixture.later(5))  // a bolus lives 5 minutes
        #expect(request.changeJSON == #"{"kind":"bolus","milliunits":2000}"#)
        #expect(request.sequence == nil)
        #expect(ChangeRequestID(request.id.rawValue) == request.id)
        #expect(try await fixture.store.request(request.id) == request)
    }

    @Test(
        "needs approval waits; a rejected decision is recorded rejected with its reasons",
        arguments: ChangeBackend.allCases
    )
    func decisions(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let held = try await fixture.submit(decision: StoreFixture.needsApproval)
        #expect(held.state == .pendingApproval && held.expiresAt == StoreFixture.later(5))  // the approval window
        #expect(held.decision.outcome == .needsApproval)
        #expect(held.decision.reasons.map(\.code) == ["max_bolus_outside_recommended"])
        let rejected = try await fixture.submit(StoreFixture.bolus(12_000), decision: StoreFixture.reject)
        #expect(rejected.state == .rejected && rejected.state.isTerminal)
        #expect(rejected.decision.reasons.first?.code == "prescription_max_bolus_exceeded")
        #expect(try await fixture.store.next(for: StoreFixture.serial, now: StoreFixture.now) == nil)
    }

    @Test("the same idempotency key twice gives one request and one audit entry", arguments: ChangeBackend.allCases)
    func idempotentRetry(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let first = try await fixture.store.submit(
            ChangeSubmission(
                pumpSerial: StoreFixture.serial,
                requester: StoreFixture.patient,
                idempotencyKey: "retry-1",
                change: StoreFixture.bolus(1500),
                decision: .accept
            ),
            now: StoreFixture.now
        )
        let size = try await fixture.audit.storedSize()
        // The retry comes later and with a different decision: the stored request is returned as is.
        let second = try await fixture.store.submit(
            ChangeSubmission(
                pumpSerial: StoreFixture.serial,
                requester: StoreFixture.patient,
                idempotencyKey: "retry-1",
                change: StoreFixture.bolus(1500),
                decision: StoreFixture.reject
            ),
            now: StoreFixture.later(1)
        )
        guard case .created = first, case .existing = second else {
            Issue.record("expected created then existing, got \(first) and \(second)")
            return
        }
        #expect(first.request == second.request)
        #expect(try await fixture.audit.storedSize() == size)
        #expect(try await fixture.store.requests(forPump: StoreFixture.serial).count == 1)
        // Another requester may use the same key for their own request.
        let other = try await fixture.submit(StoreFixture.bolus(1500), key: "retry-1", by: StoreFixture.clinician)
        #expect(other.id != first.request.id)
    }

    @Test(
        "the same key with a different body is idempotencyKeyReused, and nothing is logged",
        arguments: ChangeBackend.allCases
    )
    func keyReused(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        _ = try await fixture.submit(StoreFixture.bolus(1500), key: "k")
        let size = try await fixture.audit.storedSize()
        for (change, serial) in [
            (StoreFixture.bolus(1550), StoreFixture.serial), (StoreFixture.bolus(1500), "PUMP-0002"),
        ] {
            let error = await changeError { _ = try await fixture.submit(change, key: "k", serial: serial) }
            #expect(error?.code == .idempotencyKeyReused)
            #expect(error?.code.httpStatus == 409)
        }
        #expect(try await fixture.audit.storedSize() == size)
    }

    @Test("concurrent submissions with one key record exactly one request", arguments: ChangeBackend.allCases)
    func concurrentSameKey(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let outcomes = await withTaskGroup(of: String.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    do {
                        let result = try await fixture.store.submit(
                            ChangeSubmission(
                                pumpSerial: StoreFixture.serial,
                                requester: StoreFixture.patient,
                                idempotencyKey: "same",
                                change: StoreFixture.bolus(1000),
                                decision: .accept
                            ),
                            now: StoreFixture.now
                        )
                        if case .created = result { return "created" }
                        return "existing"
                    } catch let error as ChangeRequestError {
                        return error.code.rawValue
                    } catch {
                        return "\(error)"
                    }
                }
            }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == "created" }.count == 1, "\(outcomes)")
        #expect(outcomes.allSatisfy { ["created", "existing", "request_in_progress"].contains($0) }, "\(outcomes)")
        #expect(try await fixture.entries().count == 1)
    }

    @Test("bad serials and idempotency keys are refused before anything is logged", arguments: ChangeBackend.allCases)
    func invalidInput(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        for (serial, key) in [
            ("", "k"), ("PUMP 1", "k"), (StoreFixture.serial, ""), (StoreFixture.serial, "has space"),
        ] {
            let error = await changeError { _ = try await fixture.submit(key: key, serial: serial) }
            #expect(error?.code == .invalidInput, "\(serial) \(key)")
        }
        #expect(try await fixture.entries().isEmpty)
    }

    @Test(
        "approval by a second clinician queues the change; reject and cancel end it",
        arguments: ChangeBackend.allCases
    )
    func approval(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let held = try await fixture.submit(decision: StoreFixture.needsApproval)
        let approved = try await fixture.store.approve(
            held.id,
            by: StoreFixture.secondClinician,
            now: StoreFixture.later(2)
        )
        #expect(approved.state == .queued && approved.approverID == "drjones")
        #expect(try await fixture.store.request(held.id) == approved)
        #expect(approved.history.map(\.to) == [.pendingApproval, .approved, .queued])
        let entry = try #require(try await fixture.entries().last)
        #expect(entry.event.kind == .changeApproved && entry.event.actor.id == "drjones")
        #expect(approved.authorizingAuditIndex == entry.index)
        #expect(approved.expiresAt == StoreFixture.later(5))  // 5 minutes from the request, not the approval
        let late = try await fixture.submit(decision: StoreFixture.needsApproval)
        let lateApproval = await changeError {
            _ = try await fixture.store.approve(late.id, by: StoreFixture.secondClinician, now: StoreFixture.later(5))
        }
        #expect(lateApproval?.code == .commandExpired)
        #expect(try await fixture.store.request(late.id)?.state == .pendingApproval)
        // (The queued one above expires with it: same window.)
        #expect(Set(try await fixture.store.expire(now: StoreFixture.later(5)).map(\.id)) == [approved.id, late.id])
        #expect(try await fixture.store.request(late.id)?.history.map(\.to) == [.pendingApproval, .expired])

        let declined = try await fixture.submit(decision: StoreFixture.needsApproval)
        #expect(
            try await fixture.store.reject(declined.id, by: StoreFixture.secondClinician, now: StoreFixture.now).state
                == .rejected
        )
        #expect(try await fixture.entries().last?.event.kind == .changeRejected)
        let withdrawn = try await fixture.submit(decision: StoreFixture.needsApproval)
        let cancelled = try await fixture.store.cancel(
            withdrawn.id,
            by: ChangeActor(StoreFixture.patient),
            now: StoreFixture.now
        )
        #expect(cancelled.state == .cancelled)
        #expect(try await fixture.entries().last?.event.kind == .changeCancelled)
    }

    @Test("unknown ids are notFound", arguments: ChangeBackend.allCases)
    func notFound(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let id = ChangeRequestID.random()
        #expect(try await fixture.store.request(id) == nil)
        let error = await changeError { _ = try await fixture.store.cancel(id, by: .gateway, now: StoreFixture.now) }
        #expect(error?.code == .notFound && error?.code.httpStatus == 404)
        #expect(ChangeRequestID("chg_short") == nil && ChangeRequestID("../etc/passwd") == nil)
    }

    @Test(
        "a pump's therapy is read anew after a new version, whether this store or another connection wrote it",
        arguments: ChangeBackend.allCases
    )
    func therapyIsNeverStale(_ backend: ChangeBackend) async throws {
        let fixture = try await StoreFixture.make(backend)
        let clinician = ChangeActor(id: "drsmith", role: "clinician")
        func set(_ store: ChangeRequestStore, maxBolus: Int64) async throws {
            let text = String(decoding: TherapyJSON.encode(StoreFixture.prescription), as: UTF8.self)
            let changed = text.replacingOccurrences(
                of: "\"maxBolusMilliunits\":10000",
                with: "\"maxBolusMilliunits\":\(maxBolus)"
            )
            let prescription = try TherapyJSON.prescription(from: Data(changed.utf8))
            _ = try await store.setTherapy(
                serial: StoreFixture.serial,
                prescription: prescription,
                model: StoreFixture.model,
                by: clinician,
                now: StoreFixture.now
            )
        }
        #expect(try await fixture.store.therapy(for: StoreFixture.serial) == nil)
        try await set(fixture.store, maxBolus: 8000)
        #expect(try await fixture.store.therapy(for: StoreFixture.serial)?.prescription.maxBolus.rawValue == 8000)
        // Another connection to the same store: on SQLite not a running gateway's way, but the
        // cache must not hide it; on PostgreSQL, another gateway node.
        let other = try await fixture.restarted()
        try await set(other.store, maxBolus: 6000)
        let seen = try await fixture.store.therapy(for: StoreFixture.serial)
        #expect(seen?.version == 2 && seen?.prescription.maxBolus.rawValue == 6000)
    }
}

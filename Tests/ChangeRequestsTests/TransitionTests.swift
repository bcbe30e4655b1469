import ChangeRequests
import Foundation
import Testing
import TherapyModel

@Suite("change-request state machine")
struct TransitionTests {
    /// The legal moves, written out independently of the implementation.
    static let legal: Set<[String]> = [
        ["pending_approval", "approved"], ["pending_approval", "rejected"], ["pending_approval", "cancelled"],
        ["pending_approval", "expired"],
        ["approved", "queued"], ["approved", "cancelled"], ["accepted", "queued"], ["accepted", "cancelled"],
        ["queued", "sent"], ["queued", "expired"], ["queued", "cancelled"],
        ["sent", "applied"], ["sent", "refused_by_pump"], ["sent", "uncertain"],
        ["uncertain", "applied"], ["uncertain", "refused_by_pump"], ["uncertain", "not_applied"],
    ]

    @Test("exactly the drawn transitions are legal; every other pair of the 12 states is not")
    func table() {
        var checked = 0
        for from in ChangeRequestState.allNamed {
            for to in ChangeRequestState.allNamed {
                #expect(from.canMove(to: to) == Self.legal.contains([from.name, to.name]), "\(from) → \(to)")
                checked += 1
            }
        }
        #expect(checked == 144)
        let terminal = ChangeRequestState.allNamed.filter(\.isTerminal).map(\.name)
        #expect(Set(terminal) == ["applied", "refused_by_pump", "expired", "not_applied", "cancelled", "rejected"])
        for state in ChangeRequestState.allNamed where state.isTerminal {
            #expect(!ChangeRequestState.allNamed.contains { state.canMove(to: $0) }, "\(state) is terminal")
        }
    }

    @Test("state names round-trip")
    func names() {
        for state in ChangeRequestState.allNamed {
            #expect(ChangeRequestState(name: state.name, refusal: state.refusalCode) == state)
        }
        #expect(ChangeRequestState(name: "refused_by_pump") == nil)
        #expect(ChangeRequestState(name: "bogus") == nil)
    }

    @Test("illegal steps on stored requests throw illegalTransition naming from and to, and log nothing")
    func illegalStepsInTheStore() async throws {
        let fixture = try await StoreFixture.make()
        let now = StoreFixture.now
        let queued = try await fixture.submit()
        let held = try await fixture.submit(decision: StoreFixture.needsApproval)
        let rejected = try await fixture.submit(decision: StoreFixture.reject)
        let size = try await fixture.audit.storedSize()

        let cases: [(String, ChangeRequestState, ChangeRequestState, () async throws -> Void)] = [
            (
                "approve queued", .queued, .approved,
                { _ = try await fixture.store.approve(queued.id, by: StoreFixture.secondClinician, now: now) }
            ),
            (
                "reject queued", .queued, .rejected,
                { _ = try await fixture.store.reject(queued.id, by: StoreFixture.secondClinician, now: now) }
            ),
            (
                "approve rejected", .rejected, .approved,
                { _ = try await fixture.store.approve(rejected.id, by: StoreFixture.secondClinician, now: now) }
            ),
            (
                "cancel rejected", .rejected, .cancelled,
                { _ = try await fixture.store.cancel(rejected.id, by: .gateway, now: now) }
            ),
            ("send held", .pendingApproval, .sent, { _ = try await fixture.store.markSent(held.id, now: now) }),
            (
                "resolve held", .pendingApproval, .notApplied,
                { _ = try await fixture.store.resolveUncertain(held.id, as: .notApplied, now: now) }
            ),
            (
                "resolve queued", .queued, .applied,
                { _ = try await fixture.store.resolveUncertain(queued.id, as: .applied, now: now) }
            ),
        ]
        for (name, from, to, body) in cases {
            let error = await changeError(body)
            #expect(error?.code == .illegalTransition, "\(name)")
            #expect(error?.from == from && error?.to == to, "\(name): \(error?.reason ?? "")")
        }
        #expect(try await fixture.audit.storedSize() == size)
    }

    @Test("once sent: no cancel; after an acknowledgement: no second acknowledgement, no uncertainty")
    func afterSending() async throws {
        let fixture = try await StoreFixture.make()
        let request = try await fixture.submit()
        let sent = try await fixture.store.markSent(request.id, now: StoreFixture.now)
        let sequence = try #require(sent.sequence)
        let cancel = await changeError {
            _ = try await fixture.store.cancel(request.id, by: .gateway, now: StoreFixture.now)
        }
        #expect(cancel?.code == .illegalTransition && cancel?.from == .sent && cancel?.to == .cancelled)
        let resend = await changeError { _ = try await fixture.store.markSent(request.id, now: StoreFixture.now) }
        #expect(resend?.code == .illegalTransition && resend?.from == .sent && resend?.to == .sent)
        let resolve = await changeError {
            _ = try await fixture.store.resolveUncertain(request.id, as: .notApplied, now: StoreFixture.now)
        }
        #expect(resolve?.from == .sent && resolve?.to == .notApplied)

        let applied = try await fixture.store.markAcknowledged(
            serial: StoreFixture.serial,
            sequence: sequence,
            outcome: .applied,
            evidence: [1, 2, 3],
            now: StoreFixture.now
        )
        #expect(applied.state == .applied)
        #expect(try await fixture.store.request(request.id) == applied)  // what is returned is what is stored
        let entry = try #require(try await fixture.entries().last)
        #expect(entry.event.kind == .commandAcknowledged && entry.event.actor.role == "pump")
        #expect(String(decoding: entry.event.payload, as: UTF8.self).contains(#""evidence":"AQID""#))

        let duplicate = await changeError {
            _ = try await fixture.store.markAcknowledged(
                serial: StoreFixture.serial,
                sequence: sequence,
                outcome: .applied,
                now: StoreFixture.now
            )
        }
        #expect(duplicate?.code == .illegalTransition && duplicate?.from == .applied && duplicate?.to == .applied)
        #expect(try await fixture.store.markUncertain(forSerial: StoreFixture.serial, now: StoreFixture.now).isEmpty)
        let unknown = await changeError {
            _ = try await fixture.store.markAcknowledged(
                serial: StoreFixture.serial,
                sequence: sequence + 1,
                outcome: .applied,
                now: StoreFixture.now
            )
        }
        #expect(unknown?.code == .unknownCommand)
        let otherPump = await changeError {
            _ = try await fixture.store.markAcknowledged(
                serial: "PUMP-0002",
                sequence: sequence,
                outcome: .applied,
                now: StoreFixture.now
            )
        }
        #expect(otherPump?.code == .unknownCommand)
    }
}

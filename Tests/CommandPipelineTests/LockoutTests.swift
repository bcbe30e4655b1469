import AuditLog
import ChangeRequests
import CommandPipeline
import Foundation
import Lockouts
import PumpRuntime
import Testing
import TherapyModel
import TunnelProtocol

/// Lockouts through the real pipeline, stores, audit log and pump runtimes (in process, the
/// clock in the test's hands): each scope, the standing order reaching pumps that were offline,
/// changes cancelled and refused, the two-person lift, and a lockout pre-empting a stalled change.
@Suite("Lockouts")
struct LockoutTests {
    static let otherModel = try! PumpModel(
        name: "Other 0.1 U pump",
        bolusStep: Milliunits(100),
        basalRateStep: MilliunitsPerHour(100),
        maxBolus: Milliunits(20_000),
        maxBasalRate: MilliunitsPerHour(30_000),
        maxScheduleEntries: 24,
        minimumSegmentMinutes: 30,
        tempBasalDurationStepMinutes: 30,
        maxTempBasalDurationMinutes: 720,
        supportedControls: .all
    )

    struct ScopeCase: Sendable, CustomTestStringConvertible {
        let scope: String
        let covered: Set<String>
        var testDescription: String { scope }
    }

    /// PUMP-0001: patient-001's (its therapy is set), the simulator's model, firmware fw-a;
    /// PUMP-0002: no therapy, the simulator's model, fw-b; PUMP-0003: no therapy, another model, fw-a.
    static let scopes = [
        ScopeCase(scope: "pump:PUMP-0002", covered: ["PUMP-0002"]),
        ScopeCase(scope: "patient:patient-001", covered: ["PUMP-0001"]),
        ScopeCase(scope: "model:Other 0.1 U pump", covered: ["PUMP-0003"]),
        ScopeCase(scope: "firmware:fw-a", covered: ["PUMP-0001", "PUMP-0003"]),
        ScopeCase(scope: "all", covered: ["PUMP-0001", "PUMP-0002", "PUMP-0003"]),
    ]

    static func body(_ scope: String, reason: String = "test: suspected compromise", suspend: Bool = false) -> Data {
        Data("{\"scope\": \"\(scope)\", \"reason\": \"\(reason)\", \"suspendDelivery\": \(suspend)}".utf8)
    }

    func pumps(_ fixture: PipelineFixture) throws -> [TestPump] {
        [
            try TestPump(serial: "PUMP-0001", fixture: fixture, firmware: "fw-a"),
            try TestPump(serial: "PUMP-0002", fixture: fixture, firmware: "fw-b"),
            try TestPump(serial: "PUMP-0003", fixture: fixture, model: Self.otherModel, firmware: "fw-a"),
        ]
    }

    @Test(
        "each scope: the pumps in scope get lockoutStart first on their session, the others keep working",
        arguments: scopes
    )
    func scope(_ scope: ScopeCase) async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            let pumps = try self.pumps(fixture)
            for pump in pumps {
                pump.connect()
                await fixture.pipeline.waitUntilIdle(pump.serial)
            }
            let view = try await fixture.pipeline.startLockout(
                body: Self.body(scope.scope),
                authorization: try await fixture.bearer("ines")
            )
            for pump in pumps { await fixture.pipeline.waitUntilIdle(pump.serial) }
            for pump in pumps {
                if scope.covered.contains(pump.serial) {
                    #expect(pump.state.isLockedOut, "\(pump.serial) is not locked out")
                    let first = try #require(pump.commands.first, "\(pump.serial) received nothing")
                    #expect(first.envelope.command == .lockoutStart(suspendDelivery: false))
                } else {
                    #expect(!pump.state.isLockedOut, "\(pump.serial) is locked out")
                    #expect(pump.commands.isEmpty, "\(pump.serial) received a command")
                }
            }
            let detail = try await fixture.pipeline.lockoutDetail(
                view.lockout.id.rawValue,
                authorization: try await fixture.bearer("olga")
            )
            #expect(Set(detail.pumps.map(\.serial)) == scope.covered)
            #expect(detail.pumps.allSatisfy { $0.state == "acknowledged" })
            // PUMP-0001's bolus: refused by the gateway when in scope, applied otherwise.
            let bolus = try await fixture.submit(PipelineFixture.bolus(500))
            await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)
            if scope.covered.contains(PipelineFixture.serial) {
                #expect(bolus.status == 422)
                #expect(bolus.request.decision.reasons.map(\.code) == ["pump_locked_out"])
            } else {
                #expect(try await fixture.request(bolus.request.id).state == .applied)
            }
            #expect(try await fixture.verifyAuditLog().size > 0)
        }
    }

    @Test("a phone lockout shuts the phone out and locks no pump")
    func phoneScope() async throws {
        let fixture = try await PipelineFixture.make()
        await fixture.watchPhoneLockouts()
        try await fixture.running {
            let pump = try TestPump(fixture: fixture)
            pump.connect()
            let view = try await fixture.pipeline.startLockout(
                body: Self.body("phone:PHONE-9"),
                authorization: try await fixture.bearer("ines")
            )
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(fixture.shutOut.phones.withLock { $0 } == ["PHONE-9"])
            #expect(!pump.state.isLockedOut)
            #expect(view.pumps.isEmpty)
            let token = try await fixture.bearer("ines")
            _ = try await fixture.pipeline.requestLockoutLift(view.lockout.id.rawValue, authorization: token)
            _ = try await fixture.pipeline.confirmLockoutLift(
                view.lockout.id.rawValue,
                authorization: try await fixture.bearer("ivan")
            )
            #expect(fixture.shutOut.phones.withLock { $0 }.isEmpty)
        }
    }

    @Test("a pump offline during the lockout gets it first on connect, after a restart and past any envelope lifetime")
    func offlinePumpAfterRestart() async throws {
        let fixture = try await PipelineFixture.make()
        let id = try await fixture.running {
            let view = try await fixture.pipeline.startLockout(
                body: Self.body("pump:PUMP-0001"),
                authorization: try await fixture.bearer("ines")
            )
            #expect(view.pumps.map(\.state) == ["offline"])
            return view.lockout.id
        }
        let restarted = try await fixture.restarted()
        _ = try await restarted.pipeline.recover()
        restarted.clock.advance(minutes: 72 * 60)  // three days: far past the 24 h of lockoutStart
        try await restarted.running {
            let pump = try TestPump(fixture: restarted)
            pump.connect()
            await restarted.pipeline.waitUntilIdle(pump.serial)
            #expect(pump.state.isLockedOut)
            let first = try #require(pump.commands.first)
            #expect(first.envelope.command == .lockoutStart(suspendDelivery: false))
            #expect(first.envelope.issuedAt == restarted.clock.now(), "the lockoutStart was not signed afresh")
            let detail = try await restarted.pipeline.lockoutDetail(
                id.rawValue,
                authorization: try await restarted.bearer("ines")
            )
            #expect(detail.pumps.map(\.state) == ["acknowledged"])
            // Every session starts with it again.
            pump.disconnect()
            pump.connect()
            await restarted.pipeline.waitUntilIdle(pump.serial)
            #expect(pump.commands.count == 2)
            #expect(pump.commands.last?.envelope.command == .lockoutStart(suspendDelivery: false))
            #expect(try await restarted.entries(of: .lockoutAcknowledged).count == 2)
        }
    }

    @Test(
        "queued and held changes are cancelled with the lockout named; new ones are refused; the pump refuses anything but the lift"
    )
    func changesCancelledAndRefused() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            await (try TestPump(fixture: fixture)).seenThenOffline(fixture)
            let queued = try await fixture.submit(PipelineFixture.bolus(1_000))
            let held = try await fixture.submit(
                Data(#"{"kind": "set_suspend_threshold", "mgdL": 85}"#.utf8),
                by: "drsmith"
            )
            #expect(queued.request.state == .queued)
            #expect(held.request.state == .pendingApproval)
            let view = try await fixture.pipeline.startLockout(
                body: Self.body("pump:PUMP-0001", suspend: true),
                authorization: try await fixture.bearer("ines")
            )
            await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)
            for id in [queued.request.id, held.request.id] {
                let request = try await fixture.request(id)
                #expect(request.state == .cancelled)
                let note = try #require(request.history.last?.note)
                #expect(note.contains("lockout") && note.contains(view.lockout.id.rawValue))
            }
            let refused = try await fixture.submit(PipelineFixture.bolus(500))
            #expect(refused.status == 422)
            #expect(refused.request.decision.reasons.map(\.code) == ["pump_locked_out"])
            let pump = try TestPump(fixture: fixture)
            pump.connect()
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(pump.commands.map(\.envelope.command) == [.lockoutStart(suspendDelivery: true)])
            #expect(pump.state.mode.contains(.suspended))
            // A bolus signed with the gateway's own key still does not pass the pump's lockout.
            let forged = try SharedPKI.shared.signed(
                .change(.bolus(Milliunits(500))),
                sequence: 50,
                at: fixture.clock.now()
            )
            #expect(pump.answer(forged).content.result == .refused(.lockedOut))
        }
    }

    @Test(
        "a lockout started and lifted in the store by another node reaches the pumps connected here when the lockouts change (lockoutsChanged); the same set again sends nothing"
    )
    func lockoutsChangedElsewhere() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            let pumps = try self.pumps(fixture)
            for pump in pumps {
                pump.connect()
                await fixture.pipeline.waitUntilIdle(pump.serial)
            }
            await fixture.pipeline.lockoutsChanged()
            for pump in pumps { await fixture.pipeline.waitUntilIdle(pump.serial) }
            #expect(pumps.allSatisfy { $0.commands.isEmpty })
            // Written to the store as another node's step is: no fan-out from this pipeline.
            let store = try #require(fixture.pipeline.lockouts)
            let ines = try AuditActor(id: "ines", role: "incident")
            let ivan = try AuditActor(id: "ivan", role: "incident")
            let lockout = try await store.start(
                scope: .firmware("fw-a"),
                reason: "test: started on another node",
                suspendDelivery: false,
                by: ines,
                now: fixture.clock.now().millisecondsSinceEpoch
            )
            await fixture.pipeline.lockoutsChanged()
            for pump in pumps { await fixture.pipeline.waitUntilIdle(pump.serial) }
            for pump in pumps {
                let covered = pump.serial != "PUMP-0002"
                #expect(pump.state.isLockedOut == covered, "\(pump.serial)")
                #expect(
                    pump.commands.map(\.envelope.command) == (covered ? [.lockoutStart(suspendDelivery: false)] : []),
                    "\(pump.serial)"
                )
            }
            await fixture.pipeline.lockoutsChanged()
            for pump in pumps { await fixture.pipeline.waitUntilIdle(pump.serial) }
            #expect(pumps.map(\.commands.count) == [1, 0, 1], "the same lockouts again: nothing sent")

            _ = try await store.requestLift(lockout.id, by: ines, now: fixture.clock.now().millisecondsSinceEpoch)
            _ = try await store.confirmLift(lockout.id, by: ivan, now: fixture.clock.now().millisecondsSinceEpoch)
            await fixture.pipeline.lockoutsChanged()
            for pump in pumps { await fixture.pipeline.waitUntilIdle(pump.serial) }
            #expect(pumps.allSatisfy { !$0.state.isLockedOut })
            #expect(pumps[0].commands.last?.envelope.command == .lockoutLift)
            #expect(pumps[2].commands.last?.envelope.command == .lockoutLift)
            #expect(pumps[1].commands.isEmpty)
        }
    }

    @Test("the lift takes two different incident users; both are in the audit log; the pump gets lockoutLift")
    func twoPersonLift() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            let pump = try TestPump(fixture: fixture)
            pump.connect()
            let ines = try await fixture.bearer("ines")
            let ivan = try await fixture.bearer("ivan")
            let id = try await fixture.pipeline.startLockout(body: Self.body("pump:PUMP-0001"), authorization: ines)
                .lockout.id.rawValue
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(pump.state.isLockedOut)
            await #expect(throws: ChangeAPIError(status: 409, reason: "lift_not_requested", message: "")) {
                try await fixture.pipeline.confirmLockoutLift(id, authorization: ivan)
            }
            _ = try await fixture.pipeline.requestLockoutLift(id, authorization: ines)
            await #expect(throws: ChangeAPIError(status: 409, reason: "lift_already_requested", message: "")) {
                try await fixture.pipeline.requestLockoutLift(id, authorization: ivan)
            }
            await #expect(throws: ChangeAPIError(status: 403, reason: "same_person", message: "")) {
                try await fixture.pipeline.confirmLockoutLift(id, authorization: ines)
            }
            #expect(
                try await fixture.pipeline.lockoutDetail(id, authorization: ines).lockout.stateName == "lift_requested"
            )
            #expect(pump.state.isLockedOut, "the lockout ended with one person")
            let lifted = try await fixture.pipeline.confirmLockoutLift(id, authorization: ivan)
            #expect(lifted.lockout.stateName == "lifted")
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(!pump.state.isLockedOut)
            #expect(pump.commands.last?.envelope.command == .lockoutLift)
            let entry = try #require(try await fixture.entries(of: .lockoutLifted).last)
            #expect(entry.event.actor.id == "ivan")
            let payload = try #require(
                try JSONSerialization.jsonObject(with: Data(entry.event.payload)) as? [String: Any]
            )
            #expect(payload["requestedBy"] as? String == "ines")
            let denied = try await fixture.entries(of: .accessDenied).compactMap {
                try JSONSerialization.jsonObject(with: Data($0.event.payload)) as? [String: Any]
            }
            #expect(denied.contains { $0["reason"] as? String == "same_person" })
            await #expect(throws: ChangeAPIError(status: 409, reason: "already_lifted", message: "")) {
                try await fixture.pipeline.requestLockoutLift(id, authorization: ines)
            }
            // Changes are taken again.
            let bolus = try await fixture.submit(PipelineFixture.bolus(500))
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(try await fixture.request(bolus.request.id).state == .applied)
        }
    }

    @Test(
        "bad input: unknown scope, empty reason, not incident staff, unknown id; a scope matching no pump is allowed and said"
    )
    func badInput() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            let ines = try await fixture.bearer("ines")
            await #expect(throws: ChangeAPIError(status: 400, reason: "unknown_scope", message: "")) {
                try await fixture.pipeline.startLockout(body: Self.body("device:X"), authorization: ines)
            }
            await #expect(throws: ChangeAPIError(status: 400, reason: "unknown_scope", message: "")) {
                try await fixture.pipeline.startLockout(body: Self.body("pump:"), authorization: ines)
            }
            await #expect(throws: ChangeAPIError(status: 400, reason: "empty_reason", message: "")) {
                try await fixture.pipeline.startLockout(body: Self.body("all", reason: "  "), authorization: ines)
            }
            await #expect(throws: ChangeAPIError(status: 400, reason: "invalid_input", message: "")) {
                try await fixture.pipeline.startLockout(body: Data(#"{"scope": "all"}"#.utf8), authorization: ines)
            }
            await #expect(throws: ChangeAPIError(status: 400, reason: "unknown_field", message: "")) {
                try await fixture.pipeline.startLockout(
                    body: Data(#"{"scope": "all", "reason": "x", "suspend": true}"#.utf8),
                    authorization: ines
                )
            }
            for user in ["olga", "alice", "drsmith"] {
                await #expect(throws: ChangeAPIError(status: 403, reason: "not_authorized", message: "")) {
                    try await fixture.pipeline.startLockout(
                        body: Self.body("all"),
                        authorization: try await fixture.bearer(user)
                    )
                }
            }
            await #expect(throws: ChangeAPIError(status: 401, reason: "missing", message: "")) {
                try await fixture.pipeline.startLockout(body: Self.body("all"), authorization: nil)
            }
            await #expect(throws: ChangeAPIError(status: 404, reason: "lockout_not_found", message: "")) {
                try await fixture.pipeline.lockoutDetail("lck_0000000000000000", authorization: ines)
            }
            let none = try await fixture.pipeline.startLockout(
                body: Self.body("model:Nobody's pump"),
                authorization: ines
            )
            #expect(none.pumps.isEmpty)
            #expect(none.lockout.isActive)
            #expect(try await fixture.entries(of: .lockoutStarted).count == 1)
        }
    }

    @Test(
        "a lockout waiting behind an unacknowledged change ends that session after the pre-emption delay; it goes first on the next"
    )
    func preemptsAStalledChange() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            let pump = try TestPump(fixture: fixture, behaviour: .holdAcknowledgements)
            pump.connect()
            let bolus = try await fixture.submit(PipelineFixture.bolus(1_000))
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(await fixture.pipeline.status(of: pump.serial).inFlightSequence == 1)
            _ = try await fixture.pipeline.startLockout(
                body: Self.body("pump:PUMP-0001"),
                authorization: try await fixture.bearer("ines")
            )
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(pump.commands.count == 1, "the lockout jumped the command in flight")
            fixture.clock.advance(milliseconds: 1_999)
            await fixture.pipeline.sweep()
            #expect(pump.closedByGateway.withLock { $0 } == 0)
            fixture.clock.advance(milliseconds: 1)
            await fixture.pipeline.sweep()
            #expect(pump.closedByGateway.withLock { $0 } == 1)
            #expect(try await fixture.auditedSecurityEvents().contains { $0.event == "acknowledgement_timeout" })
            pump.disconnect()
            pump.behaviour.withLock { $0 = .answer }
            pump.connect()
            await fixture.pipeline.waitUntilIdle(pump.serial)
            #expect(pump.commands.map(\.envelope.command.kind) == [.bolus, .lockoutStart])
            #expect(pump.state.isLockedOut)
            // The bolus the pump applied before the session ended is settled from its hello.
            #expect(try await fixture.request(bolus.request.id).state == .applied)
        }
    }
}

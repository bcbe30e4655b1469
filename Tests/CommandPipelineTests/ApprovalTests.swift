import AuditLog
import ChangeRequests
import CommandPipeline
import Foundation
import Testing
import TherapyModel
import TunnelProtocol

/// Changes held for approval, approval by a second clinician, cancellation.
@Suite("Command pipeline: approval and cancellation")
struct ApprovalTests {
    static let suspendAt85 = Data("{\"kind\": \"set_suspend_threshold\", \"mgdL\": 85}".utf8)

    @Test(
        "outside the recommended range: held (202), refused to its requester and to non-clinicians, approved by a second clinician, applied"
    )
    func approvalBySecondClinician() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            try await fixture.setTherapy()
            pump.connect()
            let held = try await fixture.submit(Self.suspendAt85, by: "drsmith")
            #expect(held.status == 202 && held.request.state == .pendingApproval)
            #expect(held.request.decision.reasons.map(\.code) == ["suspend_threshold_outside_recommended"])
            await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)
            #expect(pump.received.withLock { $0 }.isEmpty)

            let id = held.request.id.rawValue
            let refusals: [(String, String)] = [
                ("drsmith", "self_approval"),
                ("alice", "approver_not_clinician"),
                ("drwho", "approver_not_linked_to_patient"),
            ]
            for (user, reason) in refusals {
                let error = await apiError {
                    try await fixture.pipeline.approveChange(id, authorization: try await fixture.bearer(user))
                }
                #expect(error?.status == 403 && error?.reason == reason, "\(user)")
            }
            #expect(try await fixture.entries(of: .accessDenied).count == 3)
            #expect(try await fixture.request(held.request.id).state == .pendingApproval)

            let approved = try await fixture.pipeline.approveChange(
                id,
                authorization: try await fixture.bearer("drjones")
            )
            #expect(approved.approverID == "drjones")
            await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)
            let request = try await fixture.request(held.request.id)
            #expect(request.state == .applied)
            #expect(request.history.map(\.to) == [.pendingApproval, .approved, .queued, .sent, .applied])
            #expect(pump.state.settings.suspendThreshold == GlucoseMgdL(85))
            // The envelope names the approval's audit entry.
            let envelope = try #require(pump.commands.first).envelope
            #expect(try await fixture.entries()[Int(envelope.auditIndex)].event.kind == .changeApproved)
            let twice = await apiError {
                try await fixture.pipeline.approveChange(id, authorization: try await fixture.bearer("drjones"))
            }
            #expect(twice?.status == 409 && twice?.reason == "illegal_transition")
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test(
        "approval decides again: a change held while the prescription narrowed is refused (422) with the policy reason"
    )
    func approvalDecidesAgain() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            // A clinician's change that needs approval, then the prescription lowers the
            // maximum suspend threshold below it: approving it would now be a reject.
            try await fixture.setTherapy()
            let held = try await fixture.submit(Self.suspendAt85, by: "drsmith")
            #expect(held.status == 202)
            let lowered = PipelineFixture.prescriptionJSON.replacingOccurrences(
                of: "\"suspendThresholdMgdL\": {\"min\": 70, \"max\": 90}",
                with: "\"suspendThresholdMgdL\": {\"min\": 70, \"max\": 80}"
            )
            _ = try await fixture.pipeline.setTherapy(
                serial: PipelineFixture.serial,
                body: PipelineFixture.therapyBody(prescription: lowered),
                authorization: try await fixture.bearer("drjones")
            )
            let error = await apiError {
                try await fixture.pipeline.approveChange(
                    held.request.id.rawValue,
                    authorization: try await fixture.bearer("drjones")
                )
            }
            #expect(error?.status == 422 && error?.reason == "prescription_suspend_threshold_range")
            #expect(try await fixture.request(held.request.id).state == .pendingApproval)
        }
    }

    @Test(
        "a held change expires with its command's lifetime from the request: approval does not extend it, a late approval is refused (409 command_expired), the sweep records it expired and nothing is sent"
    )
    func approvalWindow() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            try await fixture.setTherapy()
            pump.connect()
            // A settings change lives 24 h: it must be approved within 24 h of the request.
            let held = try await fixture.submit(Self.suspendAt85, by: "drsmith")
            let lifetime = CommandLifetime.maximumMilliseconds(for: ControlKind.setSuspendThreshold)
            #expect(
                held.request.expiresAt?.millisecondsSinceEpoch
                    == held.request.createdAt.millisecondsSinceEpoch + lifetime
            )
            fixture.clock.advance(minutes: 24 * 60 + 1)
            let late = await apiError {
                try await fixture.pipeline.approveChange(
                    held.request.id.rawValue,
                    authorization: try await fixture.bearer("drjones")
                )
            }
            #expect(late?.status == 409 && late?.reason == "command_expired", "\(String(describing: late))")
            #expect(try await fixture.entries(of: .changeApproved).isEmpty)
            await fixture.pipeline.sweep()
            let expired = try await fixture.request(held.request.id)
            #expect(expired.state == .expired)
            #expect(expired.history.map(\.to) == [.pendingApproval, .expired])
            #expect(try await fixture.entries(of: .commandExpired).count == 1)
            await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)
            #expect(pump.received.withLock { $0 }.isEmpty)

            // Approved in time, the command keeps the expiry counted from the request.
            let again = try await fixture.submit(Self.suspendAt85, by: "drsmith")
            fixture.clock.advance(minutes: 60)
            let approved = try await fixture.pipeline.approveChange(
                again.request.id.rawValue,
                authorization: try await fixture.bearer("drjones")
            )
            #expect(approved.expiresAt == again.request.expiresAt)
            await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)
            #expect(try await fixture.request(again.request.id).state == .applied)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test("cancel before delivery: the command is never sent; an operator may not cancel")
    func cancelBeforeDelivery() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            try await fixture.setTherapy()
            await pump.seenThenOffline(fixture)
            let queued = try await fixture.submit(PipelineFixture.bolus(2000), by: "carol")
            #expect(queued.request.state == .queued)
            let id = queued.request.id.rawValue
            let byOperator = await apiError {
                try await fixture.pipeline.cancelChange(id, authorization: try await fixture.bearer("olga"))
            }
            #expect(byOperator?.status == 403 && byOperator?.reason == "not_authorized")
            // The patient cancels her caregiver's bolus.
            let cancelled = try await fixture.pipeline.cancelChange(
                id,
                authorization: try await fixture.bearer("alice")
            )
            #expect(cancelled.state == .cancelled)
            #expect(cancelled.history.last?.actor.id == "alice")
            pump.connect()
            await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)
            #expect(pump.received.withLock { $0 }.isEmpty)
            #expect(pump.state.lastAppliedSequence == 0)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test("cancel after the command was sent is refused (409); the pump's acknowledgement settles it")
    func cancelAfterSent() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture, behaviour: .holdAcknowledgements)
        try await fixture.running {
            let submitted = try await fixture.connectAndSubmit(PipelineFixture.bolus(2000), pump: pump)
            #expect(try await fixture.request(submitted.request.id).state == .sent)
            let error = await apiError {
                try await fixture.pipeline.cancelChange(
                    submitted.request.id.rawValue,
                    authorization: try await fixture.bearer("alice")
                )
            }
            #expect(error?.status == 409 && error?.reason == "illegal_transition")
            pump.deliver(try #require(pump.held.withLock { $0 }.first))
            await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)
            #expect(try await fixture.request(submitted.request.id).state == .applied)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }
}

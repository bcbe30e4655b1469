import SafetyPolicy
import Testing
import TherapyModel

/// Who may approve a change that needs approval: a second clinician of the patient.
@Suite("Approval")
struct ApprovalPolicyTests {
    private typealias F = PolicyFixtures

    private func codes(approver: PolicyActor, requester: PolicyActor) -> [String] {
        switch ApprovalPolicy.check(approver: approver, requester: requester, prescription: F.prescription()) {
        case .approved: []
        case .refused(let reasons): reasons.map(\.code.rawValue)
        }
    }

    @Test func aSecondClinicianApproves() {
        let requester = F.actor(.patient)
        let approver = F.actor(.clinician, id: "dr-b")
        #expect(
            ApprovalPolicy.check(approver: approver, requester: requester, prescription: F.prescription()) == .approved
        )
    }

    @Test func aClinicianCannotApproveTheirOwnRequest() {
        let clinician = F.actor(.clinician, id: "dr-a")
        #expect(codes(approver: clinician, requester: clinician) == ["self_approval"])
        // The same account is refused even when presented as a second actor value.
        #expect(
            codes(approver: F.actor(.clinician, id: "dr-a"), requester: F.actor(.clinician, id: "dr-a")) == [
                "self_approval"
            ]
        )
        #expect(codes(approver: F.actor(.clinician, id: "dr-b"), requester: clinician) == [])
    }

    @Test("only clinicians approve", arguments: ActorRole.allCases.filter { $0 != .clinician })
    func onlyClinicians(role: ActorRole) {
        #expect(codes(approver: F.actor(role, id: "other"), requester: F.actor(.patient)) == ["approver_not_clinician"])
    }

    @Test func thePatientCannotApproveTheirOwnChange() {
        let patient = F.actor(.patient)
        #expect(codes(approver: patient, requester: patient) == ["approver_not_clinician", "self_approval"])
    }

    @Test func approverMustBeAuthenticatedAndLinked() {
        let requester = F.actor(.patient)
        #expect(
            codes(approver: F.actor(.clinician, authenticated: false), requester: requester) == [
                "approver_not_authenticated"
            ]
        )
        #expect(
            codes(approver: F.actor(.clinician, patients: ["patient-002"]), requester: requester)
                == ["approver_not_linked_to_patient"]
        )
    }

    @Test func aChangeThatNeedsApprovalSaysSo() {
        let change = SettingChange.setMaxBolus(Milliunits(20_000))
        let context = F.context(prescription: F.wide)
        let decision = TherapyPolicy.evaluate(change, by: F.actor(.clinician, id: "dr-a"), context: context)
        #expect(F.outcome(decision) == .approval("max_bolus_outside_recommended"))
        #expect(decision.reasons.first?.message.contains("a second clinician must approve") == true)
    }
}

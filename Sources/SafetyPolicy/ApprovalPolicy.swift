public import TherapyModel

/// The outcome of asking whether someone may approve a change that needs approval.
public enum ApprovalVerdict: Sendable, Hashable {
    case approved
    /// Never empty.
    case refused([PolicyReason])
}

/// Who may approve what.
///
/// Only a change whose decision is `needsApproval` can be approved; a rejected change
/// cannot be approved by anyone. The approver must be an authenticated clinician, linked
/// to the pump's patient, and a different account from the requester — a clinician who
/// requests a change that needs approval needs a second clinician too.
public enum ApprovalPolicy {
    /// The only role that may approve.
    public static let approverRole = ActorRole.clinician

    public static func check(
        approver: PolicyActor,
        requester: PolicyActor,
        prescription: Prescription
    ) -> ApprovalVerdict {
        var reasons: [PolicyReason] = []
        if !approver.isAuthenticated || approver.id.isEmpty {
            reasons.append(
                PolicyReason(
                    code: .approverNotAuthenticated,
                    message: "the approver is not authenticated; sign in before approving"
                )
            )
        }
        if approver.role != approverRole {
            reasons.append(
                PolicyReason(
                    code: .approverNotClinician,
                    message: "approver \(approver.id) is a \(approver.role); only a \(approverRole) may approve "
                        + "therapy changes"
                )
            )
        }
        if approver.id == requester.id {
            reasons.append(
                PolicyReason(
                    code: .selfApproval,
                    message: "approver \(approver.id) requested this change; a second \(approverRole) must approve it"
                )
            )
        }
        if !approver.patientIDs.contains(prescription.patientID) {
            reasons.append(
                PolicyReason(
                    code: .approverNotLinkedToPatient,
                    // Names no patient: the approver is not one of theirs.
                    message: "approver \(approver.id) is not a clinician of this pump's patient; "
                        + "ask one of the patient's clinicians"
                )
            )
        }
        return reasons.isEmpty ? .approved : .refused(reasons)
    }
}

public import SafetyPolicy
public import TherapyModel

/// Who caused a transition: a person (as authenticated), the gateway itself, or a pump.
public struct ChangeActor: Sendable, Hashable, CustomStringConvertible {
    public let id: String
    /// `patient`, `clinician`, … for people; `system` for the gateway; `pump` for a pump.
    public let role: String

    public init(id: String, role: String) {
        self.id = id
        self.role = role
    }

    public init(_ actor: PolicyActor) {
        self.init(id: actor.id, role: actor.role.rawValue)
    }

    /// The gateway acting on its own (expiry, a dropped session, recovery).
    public static let gateway = ChangeActor(id: "gateway", role: "system")

    /// A pump reporting on a command (acknowledgement, reconciliation).
    public static func pump(_ serial: String) -> ChangeActor { ChangeActor(id: serial, role: "pump") }

    public var description: String { "\(id) (\(role))" }
}

/// The policy's decision as recorded with the request: the outcome and each reason's stable code
/// and message.
public struct ChangeDecision: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        case accept
        case needsApproval = "needs_approval"
        case reject
    }

    public struct Reason: Sendable, Hashable {
        public let code: String
        public let message: String

        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    public let outcome: Outcome
    public let reasons: [Reason]

    public init(outcome: Outcome, reasons: [Reason]) {
        self.outcome = outcome
        self.reasons = reasons
    }

    public init(_ decision: PolicyDecision) {
        self.outcome = Outcome(rawValue: decision.name) ?? .reject
        self.reasons = decision.reasons.map { Reason(code: $0.code.rawValue, message: $0.message) }
    }

    /// The state a request with this decision starts in.
    var initialState: ChangeRequestState {
        switch outcome {
        case .accept: .accepted
        case .needsApproval: .pendingApproval
        case .reject: .rejected
        }
    }
}

/// One step in a request's history, with the audit entry that recorded it.
public struct ChangeTransition: Sendable, Hashable {
    /// nil for the first step (the request's creation).
    public let from: ChangeRequestState?
    public let to: ChangeRequestState
    public let at: Timestamp
    public let actor: ChangeActor
    /// The index of the audit entry that recorded this step. Steps taken together (accepted and
    /// queued at creation; approved and queued) share one entry.
    public let auditIndex: UInt64
    /// Why the gateway took the step, when it says (`lockout lck_…: …`, `through phone …`).
    public var note: String? = nil
}

/// A requested change to one pump, with the policy's decision and everything that happened since.
public struct ChangeRequest: Sendable, Hashable {
    public let id: ChangeRequestID
    public let pumpSerial: String
    public let requesterID: String
    public let requesterRole: String
    public let idempotencyKey: String
    public let change: SettingChange
    /// The change's canonical JSON (`TherapyJSON.encode`), exactly as stored and audited.
    public let changeJSON: String
    public let decision: ChangeDecision
    public let state: ChangeRequestState
    public let createdAt: Timestamp
    public let updatedAt: Timestamp
    /// When the command stops being deliverable; set when it is queued.
    public let expiresAt: Timestamp?
    /// The per-pump sequence number; set when it is sent.
    public let sequence: UInt64?
    /// The clinician who approved it, for a change that needed approval.
    public let approverID: String?
    /// Set by recovery when the audit entry behind the request's current state is missing or
    /// does not match: such a request is never delivered.
    public let integrityProblem: String?
    /// Oldest first.
    public let history: [ChangeTransition]

    /// The audit entry that authorised delivery (the step into `queued`): the command envelope's
    /// audit index. nil until queued.
    public var authorizingAuditIndex: UInt64? {
        history.last(where: { $0.to == .queued })?.auditIndex
    }

    /// The audit entry that recorded the request and the policy's decision.
    public var requestAuditIndex: UInt64 { history.first?.auditIndex ?? 0 }
}

/// What the store is asked to record: a change, who asked, for which pump, and what the policy
/// decided.
public struct ChangeSubmission: Sendable {
    public let pumpSerial: String
    public let requester: PolicyActor
    /// The client's `Idempotency-Key`: unique per requester.
    public let idempotencyKey: String
    public let change: SettingChange
    public let decision: PolicyDecision
    /// The phone the pump was last seen through, for the audit entry (optional).
    public let phoneID: String?

    public init(
        pumpSerial: String,
        requester: PolicyActor,
        idempotencyKey: String,
        change: SettingChange,
        decision: PolicyDecision,
        phoneID: String? = nil
    ) {
        self.pumpSerial = pumpSerial
        self.requester = requester
        self.idempotencyKey = idempotencyKey
        self.change = change
        self.decision = decision
        self.phoneID = phoneID
    }
}

/// The answer to a submission.
public enum SubmissionResult: Sendable, Hashable {
    /// A new request, recorded in the audit log and the store.
    case created(ChangeRequest)
    /// The same requester sent the same idempotency key with the same body before: that request,
    /// unchanged (the policy was not asked again).
    case existing(ChangeRequest)

    public var request: ChangeRequest {
        switch self {
        case .created(let request), .existing(let request): request
        }
    }
}

/// What a pump reported for a command it received.
public enum PumpOutcome: Sendable, Hashable {
    case applied
    case refused(code: String)
}

/// How an uncertain command was settled from the pump's own report.
public enum Reconciliation: Sendable, Hashable {
    case applied
    case refused(code: String)
    case notApplied
}

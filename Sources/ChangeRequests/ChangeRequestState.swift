/// Where a change request is in its life. The stable names (`name`) are what the API, the
/// database and the audit log use.
///
/// ```
///                 ┌─> rejected                        (policy reject, or refused by a clinician)
///   (new) ────────┼─> pendingApproval ─┬─> approved ─┐
///                 │                    ├─> rejected  │
///                 │                    ├─> cancelled │
///                 │                    └─> expired   │  (not approved within the command's lifetime)
///                 └─> accepted ──────────────────────┴─> queued ─┬─> sent ─┬─> applied
///                       └─> cancelled    (approved → cancelled)  │         ├─> refusedByPump(code)
///                                                                │         └─> uncertain ─┬─> applied
///                                                                ├─> expired              ├─> refusedByPump(code)
///                                                                └─> cancelled            └─> notApplied
/// ```
///
/// - A change held for approval has the same expiry as the command it would become, counted
///   from the request: a bolus approved an hour after it was asked for would be a dangerous
///   surprise. Approval does not extend it; past it the request expires unapproved.
/// - A command is cancelled only before it is sent; once sent, only the pump's own report
///   settles it.
/// - `sent` past its expiry is not `expired`: the pump may have applied it. It stays `sent`
///   until acknowledged, or becomes `uncertain` when its session drops.
/// - `uncertain` is settled from the pump's next hello (`applied`, `refusedByPump`, or
///   `notApplied`); it is never re-sent.
public enum ChangeRequestState: Sendable, Hashable, CustomStringConvertible {
    case pendingApproval
    case approved
    case accepted
    case queued
    case sent
    case applied
    /// The pump verified the command and refused it, with its own code.
    case refusedByPump(code: String)
    case expired
    case uncertain
    /// Was uncertain; the pump's report shows it never applied it.
    case notApplied
    case cancelled
    case rejected

    /// States a request may be created in: the policy's decision.
    public static let initialStates: [ChangeRequestState] = [.accepted, .pendingApproval, .rejected]

    /// Whether a request in this state may move to `next`.
    public func canMove(to next: ChangeRequestState) -> Bool {
        switch (self, next) {
        case (.pendingApproval, .approved), (.pendingApproval, .rejected), (.pendingApproval, .cancelled),
            (.pendingApproval, .expired):
            true
        case (.approved, .queued), (.approved, .cancelled), (.accepted, .queued), (.accepted, .cancelled):
            true
        case (.queued, .sent), (.queued, .expired), (.queued, .cancelled):
            true
        case (.sent, .applied), (.sent, .refusedByPump), (.sent, .uncertain):
            true
        case (.uncertain, .applied), (.uncertain, .refusedByPump), (.uncertain, .notApplied):
            true
        default:
            false
        }
    }

    /// No transition leaves this state.
    public var isTerminal: Bool {
        switch self {
        case .applied, .refusedByPump, .expired, .notApplied, .cancelled, .rejected: true
        case .pendingApproval, .approved, .accepted, .queued, .sent, .uncertain: false
        }
    }

    /// `pending_approval`, `refused_by_pump`, …
    public var name: String {
        switch self {
        case .pendingApproval: "pending_approval"
        case .approved: "approved"
        case .accepted: "accepted"
        case .queued: "queued"
        case .sent: "sent"
        case .applied: "applied"
        case .refusedByPump: "refused_by_pump"
        case .expired: "expired"
        case .uncertain: "uncertain"
        case .notApplied: "not_applied"
        case .cancelled: "cancelled"
        case .rejected: "rejected"
        }
    }

    /// The pump's refusal code, for `refusedByPump`.
    public var refusalCode: String? {
        if case .refusedByPump(let code) = self { return code }
        return nil
    }

    /// Every state, with a placeholder refusal code (for tables and tests).
    public static let allNamed: [ChangeRequestState] = [
        .pendingApproval, .approved, .accepted, .queued, .sent, .applied, .refusedByPump(code: "code"), .expired,
        .uncertain, .notApplied, .cancelled, .rejected,
    ]

    /// The state named `name` (`refusal` supplies the code of `refused_by_pump`).
    public init?(name: String, refusal: String? = nil) {
        if name == "refused_by_pump" {
            guard let refusal else { return nil }
            self = .refusedByPump(code: refusal)
            return
        }
        guard let state = Self.allNamed.first(where: { $0.name == name }) else { return nil }
        self = state
    }

    public var description: String {
        refusalCode.map { "\(name)(\($0))" } ?? name
    }
}

/// The safety policy's answer for one change.
public enum PolicyDecision: Sendable, Hashable {
    /// Within every limit: may be logged and forwarded.
    case accept
    /// Within every absolute limit but outside a recommended one: a second clinician
    /// must approve (see `ApprovalPolicy`). Never empty.
    case needsApproval([PolicyReason])
    /// Outside an absolute limit, the prescription or the pump's hard limits, or not
    /// allowed for this actor. Never empty.
    case reject([PolicyReason])

    public var reasons: [PolicyReason] {
        switch self {
        case .accept: []
        case .needsApproval(let reasons), .reject(let reasons): reasons
        }
    }

    /// `accept`, `needs_approval` or `reject`: the stable name used in JSON.
    public var name: String {
        switch self {
        case .accept: "accept"
        case .needsApproval: "needs_approval"
        case .reject: "reject"
        }
    }
}

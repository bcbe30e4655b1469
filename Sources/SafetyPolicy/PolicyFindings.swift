import TherapyModel

/// What one evaluation found, in two tiers; turned into a `PolicyDecision` at the end.
struct PolicyFindings {
    private(set) var rejections: [PolicyReason] = []
    private(set) var approvals: [PolicyReason] = []

    mutating func reject(_ code: PolicyReason.Code, _ message: String) {
        rejections.append(PolicyReason(code: code, message: message))
    }

    mutating func reject(_ violation: HardLimitViolation) {
        rejections.append(PolicyReason(violation))
    }

    mutating func needApproval(_ code: PolicyReason.Code, _ message: String) {
        approvals.append(PolicyReason(code: code, message: message))
    }

    /// Classifies `value` against `guardrail`: outside absolute → reject with `absoluteCode`,
    /// outside recommended → approval with `recommendedCode`.
    mutating func check<Value: Comparable & Sendable & CustomStringConvertible>(
        _ value: Value,
        against guardrail: Guardrail<Value>,
        label: String,
        absoluteCode: PolicyReason.Code,
        recommendedCode: PolicyReason.Code
    ) {
        switch guardrail.classify(value) {
        case .withinRecommended:
            break
        case .outsideAbsolute:
            reject(
                absoluteCode,
                "\(label) \(value) is outside the absolute range \(guardrail.absolute.lowerBound) to "
                    + "\(guardrail.absolute.upperBound); choose a value inside it"
            )
        case .outsideRecommended:
            needApproval(
                recommendedCode,
                "\(label) \(value) is outside the recommended range \(guardrail.recommended.lowerBound) to "
                    + "\(guardrail.recommended.upperBound); a second clinician must approve it"
            )
        }
    }

    /// Rejects with `code` when `value` lies outside the prescription's `range`.
    mutating func check<Value: Comparable & CustomStringConvertible>(
        _ value: Value,
        within range: ClosedRange<Value>,
        label: String,
        code: PolicyReason.Code
    ) {
        if !range.contains(value) {
            reject(
                code,
                "\(label) \(value) is outside the prescribed range \(range.lowerBound) to \(range.upperBound); "
                    + "ask the clinician to change the prescription or choose a value inside it"
            )
        }
    }

    /// Any rejection wins; otherwise any approval reason; otherwise accept.
    var decision: PolicyDecision {
        if !rejections.isEmpty { return .reject(rejections) }
        if !approvals.isEmpty { return .needsApproval(approvals) }
        return .accept
    }
}

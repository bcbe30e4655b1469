/// Bounds in two tiers, after LoopKit's `Guardrail` (LoopKit/Guardrail.swift):
/// outside `absolute` a value is refused; inside `absolute` but outside `recommended`
/// it needs a clinician's approval.
public struct Guardrail<Value: Comparable & Sendable>: Sendable {
    public enum Classification: Sendable, Hashable {
        case withinRecommended
        case outsideRecommended
        case outsideAbsolute
    }

    public let absolute: ClosedRange<Value>
    public let recommended: ClosedRange<Value>

    /// `recommended` is clamped into `absolute`.
    public init(absolute: ClosedRange<Value>, recommended: ClosedRange<Value>) {
        self.absolute = absolute
        self.recommended = recommended.clamped(to: absolute)
    }

    public func classify(_ value: Value) -> Classification {
        if !absolute.contains(value) { return .outsideAbsolute }
        if !recommended.contains(value) { return .outsideRecommended }
        return .withinRecommended
    }
}

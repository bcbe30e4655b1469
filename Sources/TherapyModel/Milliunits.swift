/// An amount of insulin in integer milliunits (1 U = 1000 mU).
///
/// Doses are never `Double`: a pump delivers whole steps (e.g. 50 mU), and every
/// comparison against a limit must be exact. The raw value is unconstrained so the
/// type can carry hostile input to the checks that reject it; arithmetic that could
/// overflow is done through the `…ReportingOverflow` helpers here, never with `+`.
public struct Milliunits: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: Int64

    public init(_ rawValue: Int64) {
        self.rawValue = rawValue
    }

    public static let zero = Milliunits(0)

    public static func < (lhs: Milliunits, rhs: Milliunits) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// `true` when the amount is a whole number of `step`s (a step of zero or less never divides).
    public func isMultiple(of step: Milliunits) -> Bool {
        step.rawValue > 0 && rawValue % step.rawValue == 0
    }

    /// The sum, or `nil` when it does not fit in 64 bits.
    public func adding(_ other: Milliunits) -> Milliunits? {
        let (sum, overflow) = rawValue.addingReportingOverflow(other.rawValue)
        return overflow ? nil : Milliunits(sum)
    }

    /// The sum, clamped to `Int64.max` / `Int64.min` instead of overflowing.
    ///
    /// Used for totals compared against an upper limit: a clamped total is still above
    /// any real limit, so the comparison stays on the safe side.
    public func addingSaturating(_ other: Milliunits) -> Milliunits {
        let (sum, overflow) = rawValue.addingReportingOverflow(other.rawValue)
        guard overflow else { return Milliunits(sum) }
        return Milliunits(other.rawValue > 0 ? Int64.max : Int64.min)
    }

    /// `self × numerator / denominator`, or `nil` on overflow or a non-positive denominator.
    /// Rounds toward zero.
    public func scaled(by numerator: Int64, dividedBy denominator: Int64) -> Milliunits? {
        guard denominator > 0 else { return nil }
        let (product, overflow) = rawValue.multipliedReportingOverflow(by: numerator)
        return overflow ? nil : Milliunits(product / denominator)
    }

    /// "0.025 U", "12 U", "-1.5 U".
    public var description: String {
        DecimalText.format(rawValue, scale: 1000) + " U"
    }
}

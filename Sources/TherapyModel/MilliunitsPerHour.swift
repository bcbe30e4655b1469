/// A basal rate in integer milliunits per hour (1 U/h = 1000 mU/h).
public struct MilliunitsPerHour: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: Int64

    public init(_ rawValue: Int64) {
        self.rawValue = rawValue
    }

    public static let zero = MilliunitsPerHour(0)

    public static func < (lhs: MilliunitsPerHour, rhs: MilliunitsPerHour) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// `true` when the rate is a whole number of `step`s (a step of zero or less never divides).
    public func isMultiple(of step: MilliunitsPerHour) -> Bool {
        step.rawValue > 0 && rawValue % step.rawValue == 0
    }

    /// Insulin delivered at this rate over `minutes`, rounded up to the next milliunit
    /// (totals err on the high side); `nil` on overflow or negative input.
    public func insulin(overMinutes minutes: Int64) -> Milliunits? {
        guard rawValue >= 0, minutes >= 0 else { return nil }
        let (product, overflow) = rawValue.multipliedReportingOverflow(by: minutes)
        guard !overflow else { return nil }
        let (quotient, remainder) = product.quotientAndRemainder(dividingBy: 60)
        return Milliunits(remainder == 0 ? quotient : quotient + 1)
    }

    /// `self × numerator / denominator` rounded toward zero, or `nil` on overflow or a
    /// non-positive denominator.
    public func scaled(by numerator: Int64, dividedBy denominator: Int64) -> MilliunitsPerHour? {
        guard denominator > 0 else { return nil }
        let (product, overflow) = rawValue.multipliedReportingOverflow(by: numerator)
        return overflow ? nil : MilliunitsPerHour(product / denominator)
    }

    /// The largest multiple of `step` that is not above this rate (this rate when `step` ≤ 0;
    /// `Int64.min` when no such multiple exists).
    public func truncated(toMultipleOf step: MilliunitsPerHour) -> MilliunitsPerHour {
        guard step.rawValue > 0 else { return self }
        let remainder = rawValue % step.rawValue
        guard remainder < 0 else { return MilliunitsPerHour(rawValue - remainder) }
        let (floor, overflow) = (rawValue - remainder).subtractingReportingOverflow(step.rawValue)
        return overflow ? MilliunitsPerHour(Int64.min) : MilliunitsPerHour(floor)
    }

    /// "0.85 U/h".
    public var description: String {
        DecimalText.format(rawValue, scale: 1000) + " U/h"
    }
}

/// Insulin given at an instant or over a span, as input to insulin on board
/// (`InsulinModel.insulinOnBoard(_:at:)`).
///
/// A bolus has `start == end`. A basal or temporary-basal segment spreads `amount` evenly
/// over `[start, end)`. `amount` may be negative: a temporary basal below the scheduled rate
/// is less insulin than the schedule assumes, so relative to the schedule it is negative
/// insulin (`netTempBasal`). A segment whose `end` is before its `start` is read as a bolus
/// at `start`. Like `Milliunits`, the fields are unconstrained so the type can carry hostile
/// input; `insulinOnBoard` clamps and saturates instead of overflowing.
public struct InsulinDelivery: Sendable, Hashable {
    public var start: Timestamp
    public var end: Timestamp
    public var amount: Milliunits

    public init(start: Timestamp, end: Timestamp, amount: Milliunits) {
        self.start = start
        self.end = end
        self.amount = amount
    }

    /// A bolus of `amount` at `time`.
    public static func bolus(_ amount: Milliunits, at time: Timestamp) -> InsulinDelivery {
        InsulinDelivery(start: time, end: time, amount: amount)
    }

    /// A temporary basal at `rate` for `minutes` from `start`, as insulin relative to the
    /// scheduled basal: one segment of `(rate − scheduledRate) × minutes / 60` mU over
    /// `[start, start + minutes)`, negative when the temporary rate is below the schedule.
    /// Rounded up to the next milliunit (toward more insulin on board, like
    /// `MilliunitsPerHour.insulin(overMinutes:)`); `nil` for negative minutes or on overflow.
    ///
    /// The caller reads `scheduledRate` from the basal schedule at the temporary basal's
    /// start (`TherapySettings.basalSchedule.value(atMinute:)` with the pump's local minute of
    /// day) and assumes it holds throughout: `DailySchedule` is in local pump time and this
    /// module knows no time zones, so a temporary basal crossing a schedule boundary is
    /// not split here (split it at the boundary and call this once per part).
    public static func netTempBasal(
        rate: MilliunitsPerHour,
        scheduledRate: MilliunitsPerHour,
        start: Timestamp,
        minutes: Int64
    ) -> InsulinDelivery? {
        guard minutes >= 0 else { return nil }
        let (difference, differenceOverflow) = rate.rawValue.subtractingReportingOverflow(scheduledRate.rawValue)
        let (product, productOverflow) = difference.multipliedReportingOverflow(by: minutes)
        guard !differenceOverflow, !productOverflow else { return nil }
        // Division truncates toward zero: that is the ceiling for negative products.
        let (quotient, remainder) = product.quotientAndRemainder(dividingBy: 60)
        let amount = remainder > 0 ? quotient + 1 : quotient
        return InsulinDelivery(start: start, end: start.advanced(byMinutes: minutes), amount: Milliunits(amount))
    }
}

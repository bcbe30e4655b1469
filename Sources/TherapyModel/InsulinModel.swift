/// How the effect of a dose of rapid-acting insulin runs out over time: LoopKit's
/// exponential model (Loop issue 388), evaluated in integer arithmetic.
///
/// A dose starts to act `delayMinutes` after delivery and has acted completely
/// `actionDurationMinutes` later, with its peak activity `peakMinutes` into the action.
/// `fractionRemaining(afterMinutes:)` reads the part still to act, in parts per million,
/// from a per-minute table built once in `init` (see `makeTable` for the formula and its
/// error bound), so a lookup is O(1) and never touches floating point.
///
/// | parameter               | valid range                    | presets (rapid / ultra-rapid) |
/// |-------------------------|--------------------------------|-------------------------------|
/// | `actionDurationMinutes` | 120 ... 720                    | 360 / 360                     |
/// | `peakMinutes`           | 20 ... actionDuration / 2 − 1  | 75 / 55                       |
/// | `delayMinutes`          | 0 ... 60                       | 10 / 10                       |
///
/// The peak must come before half the duration: the curve's time constant
/// `τ = tp(1 − tp/td) / (1 − 2tp/td)` is undefined at `tp = td/2`.
public struct InsulinModel: Sendable, Hashable, CustomStringConvertible {
    /// The insulins whose curves Loop ships as presets.
    public enum Kind: String, Sendable, CaseIterable {
        /// Novolog, Humalog: 6 h duration, peak at 75 minutes.
        case rapidActing = "rapid_acting"
        /// Fiasp, Lyumjev: 6 h duration, peak at 55 minutes.
        case ultraRapid = "ultra_rapid"
    }

    public static var actionDurationRange: ClosedRange<Int> { 120...720 }
    public static var minimumPeakMinutes: Int { 20 }
    public static var delayRange: ClosedRange<Int> { 0...60 }

    public let actionDurationMinutes: Int
    public let peakMinutes: Int
    public let delayMinutes: Int
    /// Parts per million still to act at each whole minute `0 ... delay + duration`.
    let table: [UInt32]

    /// Loop's preset for `kind`, with its 10-minute delay.
    public init(kind: Kind) {
        switch kind {
        case .rapidActing: self.init(validDuration: 360, peak: 75, delay: 10)
        case .ultraRapid: self.init(validDuration: 360, peak: 55, delay: 10)
        }
    }

    /// A custom curve. Throws `value_out_of_range` naming `actionDurationMinutes`,
    /// `peakMinutes` or `delayMinutes` when that one is outside the ranges in the table above.
    public init(actionDurationMinutes: Int, peakMinutes: Int, delayMinutes: Int = 10) throws(TherapyValidationError) {
        let duration = Self.actionDurationRange
        try Check.within(
            Int64(duration.lowerBound)...Int64(duration.upperBound),
            Int64(actionDurationMinutes),
            field: "actionDurationMinutes"
        )
        let latestPeak = actionDurationMinutes / 2 - 1
        guard (Self.minimumPeakMinutes...latestPeak).contains(peakMinutes) else {
            throw TherapyValidationError(
                code: .valueOutOfRange,
                field: "peakMinutes",
                reason: "peakMinutes is \(peakMinutes), outside \(Self.minimumPeakMinutes)...\(latestPeak) for an "
                    + "action duration of \(actionDurationMinutes) minutes; give a peak of at least "
                    + "\(Self.minimumPeakMinutes) minutes and before half the duration"
            )
        }
        let delay = Self.delayRange
        try Check.within(
            Int64(delay.lowerBound)...Int64(delay.upperBound),
            Int64(delayMinutes),
            field: "delayMinutes"
        )
        self.init(validDuration: actionDurationMinutes, peak: peakMinutes, delay: delayMinutes)
    }

    private init(validDuration: Int, peak: Int, delay: Int) {
        actionDurationMinutes = validDuration
        peakMinutes = peak
        delayMinutes = delay
        table = Self.makeTable(actionDurationMinutes: validDuration, peakMinutes: peak, delayMinutes: delay)
    }

    /// Minutes from delivery until a dose has acted completely: delay plus action duration.
    public var effectMinutes: Int { delayMinutes + actionDurationMinutes }

    /// The part of a dose still to act `afterMinutes` whole minutes after its delivery, in
    /// parts per million: `1_000_000` up to the delay (and for negative minutes, a dose not
    /// yet given), `0` from `effectMinutes` on, non-increasing in between.
    public func fractionRemaining(afterMinutes minutes: Int) -> Int {
        guard minutes > 0 else { return Int(Self.partsPerMillion) }
        guard minutes < table.count else { return 0 }
        return Int(table[minutes])
    }

    /// Equal when the parameters are: the table is a function of them.
    public static func == (lhs: InsulinModel, rhs: InsulinModel) -> Bool {
        lhs.actionDurationMinutes == rhs.actionDurationMinutes && lhs.peakMinutes == rhs.peakMinutes
            && lhs.delayMinutes == rhs.delayMinutes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(actionDurationMinutes)
        hasher.combine(peakMinutes)
        hasher.combine(delayMinutes)
    }

    /// "360 min action, peak 75 min, delay 10 min".
    public var description: String {
        "\(actionDurationMinutes) min action, peak \(peakMinutes) min, delay \(delayMinutes) min"
    }
}

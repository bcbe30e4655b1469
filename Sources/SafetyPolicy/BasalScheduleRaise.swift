public import TherapyModel

/// The bound on raising a basal schedule without a second clinician.
///
/// A new schedule needs approval when, in any 30-minute slot of the day, its rate is
/// higher than the current rate by more than the larger of
/// - 20 % of the current rate (`percentBound`), and
/// - 0.1 U/h (`minimumBound`).
///
/// Why: clinical basal titration moves rates in steps of about 10–20 %; a larger jump
/// in one change is the signature of a typo (0.8 → 8.0 U/h) or of a compromised account,
/// and basal runs unattended, overnight included. The 0.1 U/h floor keeps one or two
/// pump steps at very low (paediatric) rates from needing a clinician every time.
/// Absolute limits (guardrails, prescription, max basal) still apply on top; lowering a
/// rate never needs approval on this account.
public enum BasalScheduleRaise {
    public static let percentBound: Int64 = 20
    public static let minimumBound = MilliunitsPerHour(100)

    /// One slot (or run of identical slots) raised beyond the bound.
    public struct Excess: Sendable, Hashable {
        public let startMinute: Int
        public let current: MilliunitsPerHour
        public let proposed: MilliunitsPerHour
        public let allowedRaise: MilliunitsPerHour
    }

    /// The largest raise allowed without approval from `current`.
    public static func allowedRaise(from current: MilliunitsPerHour) -> MilliunitsPerHour {
        let percent = current.scaled(by: percentBound, dividedBy: 100) ?? .zero
        return max(percent, minimumBound)
    }

    /// Slots where `proposed` exceeds `current` by more than the bound; consecutive
    /// slots with the same rates are reported once, at their first start.
    public static func excesses(
        from current: DailySchedule<MilliunitsPerHour>,
        to proposed: DailySchedule<MilliunitsPerHour>
    ) -> [Excess] {
        var result: [Excess] = []
        var previous: (MilliunitsPerHour, MilliunitsPerHour)?
        let slot = DailySchedule<MilliunitsPerHour>.slotMinutes
        for start in stride(from: 0, to: DailySchedule<MilliunitsPerHour>.minutesPerDay, by: slot) {
            let old = current.value(atMinute: start)
            let new = proposed.value(atMinute: start)
            defer { previous = (old, new) }
            if let previous, previous == (old, new) { continue }
            let allowed = allowedRaise(from: old)
            let (raise, overflow) = new.rawValue.subtractingReportingOverflow(old.rawValue)
            if overflow || raise > allowed.rawValue {
                result.append(Excess(startMinute: start, current: old, proposed: new, allowedRaise: allowed))
            }
        }
        return result
    }
}

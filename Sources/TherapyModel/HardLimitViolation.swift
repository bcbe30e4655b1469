/// Why a change breaks a pump's hard limits. The code is stable (logged, shown to
/// clinicians, asserted by tests); the message names the value and the limit.
public struct HardLimitViolation: Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case controlNotSupported = "pump_control_not_supported"
            case incrementMismatch = "pump_increment_mismatch"
            case bolusAbovePumpMaximum = "pump_bolus_maximum_exceeded"
            case basalAbovePumpMaximum = "pump_basal_maximum_exceeded"
            case bolusAboveMaxBolus = "max_bolus_exceeded"
            case basalAboveMaxBasal = "max_basal_exceeded"
            case maxBasalBelowScheduledBasal = "max_basal_below_scheduled_basal"
            case amountNotPositive = "amount_not_positive"
            case rateNegative = "rate_negative"
            case valueNotPositive = "value_not_positive"
            case tempBasalDurationInvalid = "temp_basal_duration_invalid"
            case scheduleTooManyEntries = "pump_schedule_too_many_entries"
            case scheduleSegmentTooShort = "pump_schedule_segment_too_short"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The pump model does not accept this kind of remote change.
        public static let controlNotSupported = Code(.controlNotSupported)
        /// A dose or rate is not a whole number of the pump's steps (never rounded).
        public static let incrementMismatch = Code(.incrementMismatch)
        public static let bolusAbovePumpMaximum = Code(.bolusAbovePumpMaximum)
        public static let basalAbovePumpMaximum = Code(.basalAbovePumpMaximum)
        /// A bolus above the pump's configured maximum bolus setting.
        public static let bolusAboveMaxBolus = Code(.bolusAboveMaxBolus)
        /// A temporary or scheduled basal rate above the configured maximum basal rate.
        public static let basalAboveMaxBasal = Code(.basalAboveMaxBasal)
        public static let maxBasalBelowScheduledBasal = Code(.maxBasalBelowScheduledBasal)
        public static let amountNotPositive = Code(.amountNotPositive)
        public static let rateNegative = Code(.rateNegative)
        /// A carb ratio, sensitivity or glucose value of zero or less.
        public static let valueNotPositive = Code(.valueNotPositive)
        public static let tempBasalDurationInvalid = Code(.tempBasalDurationInvalid)
        public static let scheduleTooManyEntries = Code(.scheduleTooManyEntries)
        public static let scheduleSegmentTooShort = Code(.scheduleSegmentTooShort)

        public var rawValue: String { base.rawValue }
        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// The outcome of `PumpHardLimits.check`.
public enum HardLimitVerdict: Sendable, Hashable {
    case withinLimits
    /// At least one violation, in the order found.
    case exceeds([HardLimitViolation])

    public var violations: [HardLimitViolation] {
        switch self {
        case .withinLimits: []
        case .exceeds(let violations): violations
        }
    }
}

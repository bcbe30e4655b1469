/// A value that cannot exist: a schedule with a gap, an inverted range, a pump model
/// with a zero step. Thrown by the validating initializers of this module, so a value
/// that was constructed is valid.
///
/// `field` is the path of the offending field relative to the value being built
/// (e.g. `[2].startMinute`); decoders prefix it with their own path. Equality is on `code`.
public struct TherapyValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case scheduleEmpty = "schedule_empty"
            case scheduleTooManyEntries = "schedule_too_many_entries"
            case scheduleStartOutOfDay = "schedule_start_out_of_day"
            case scheduleStartNotAligned = "schedule_start_not_aligned"
            case scheduleGapAtMidnight = "schedule_gap_at_midnight"
            case scheduleOverlap = "schedule_overlap"
            case scheduleUnsorted = "schedule_unsorted"
            case rangeInverted = "range_inverted"
            case valueNegative = "value_negative"
            case valueNotPositive = "value_not_positive"
            case valueOutOfRange = "value_out_of_range"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        public static let scheduleEmpty = Code(.scheduleEmpty)
        public static let scheduleTooManyEntries = Code(.scheduleTooManyEntries)
        public static let scheduleStartOutOfDay = Code(.scheduleStartOutOfDay)
        public static let scheduleStartNotAligned = Code(.scheduleStartNotAligned)
        public static let scheduleGapAtMidnight = Code(.scheduleGapAtMidnight)
        public static let scheduleOverlap = Code(.scheduleOverlap)
        public static let scheduleUnsorted = Code(.scheduleUnsorted)
        public static let rangeInverted = Code(.rangeInverted)
        public static let valueNegative = Code(.valueNegative)
        public static let valueNotPositive = Code(.valueNotPositive)
        public static let valueOutOfRange = Code(.valueOutOfRange)

        /// The stable string form, e.g. `schedule_unsorted`.
        public var rawValue: String { base.rawValue }
        public var description: String { base.rawValue }
    }

    public let code: Code
    /// Path of the offending field, relative to the value being built.
    public let field: String
    /// What was wrong and what to do about it.
    public let reason: String
    public let file: String
    public let line: Int

    public init(
        code: Code,
        field: String,
        reason: @autoclosure () -> String,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.field = field
        // The firmware (Embedded Swift) keeps the stable code and drops the English: the reasons'
        // literals and string building cost the pump's flash (firmware-profile/README.md), and
        // the gateway, which sees the code, has the words. The autoclosure is never evaluated there.
        #if hasFeature(Embedded)
        self.reason = ""
        #else
        self.reason = reason()
        #endif
        self.file = file
        self.line = line
    }

    /// The same error with `prefix` put in front of its field path.
    public func prefixingField(_ prefix: String) -> TherapyValidationError {
        let joined: String
        if field.isEmpty {
            joined = prefix
        } else if field.hasPrefix("[") || prefix.isEmpty {
            joined = prefix + field
        } else {
            joined = prefix + "." + field
        }
        return TherapyValidationError(code: code, field: joined, reason: reason, file: file, line: line)
    }

    public static func == (lhs: TherapyValidationError, rhs: TherapyValidationError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
    }

    public var description: String {
        "\(field): \(reason) [\(code)]"
    }
}

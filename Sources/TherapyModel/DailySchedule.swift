/// A value that changes with the time of day: basal rates, carb ratios, sensitivities,
/// correction ranges.
///
/// A schedule is a list of entries, each a start time and a value; an entry's segment
/// runs until the next entry's start, and the last one until midnight. The initializer
/// enforces the shape every pump shares, so a constructed schedule always covers the
/// whole day exactly once:
///
/// | rule                                        | error code                   |
/// |---------------------------------------------|------------------------------|
/// | at least one entry                          | `schedule_empty`             |
/// | at most 48 entries (one per 30 minutes)     | `schedule_too_many_entries`  |
/// | starts within the day, 0 ..< 1440 minutes   | `schedule_start_out_of_day`  |
/// | starts on a multiple of 30 minutes          | `schedule_start_not_aligned` |
/// | first entry at midnight (else: a gap)       | `schedule_gap_at_midnight`   |
/// | no two entries at the same start (overlap)  | `schedule_overlap`           |
/// | entries in increasing start order           | `schedule_unsorted`          |
///
/// Pump-specific limits (entry count, minimum segment length) are checked by
/// `PumpHardLimits`, because they depend on the pump model.
public struct DailySchedule<Value: Sendable & Hashable>: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        /// Minutes after midnight, local pump time.
        public let startMinute: Int
        public let value: Value

        public init(startMinute: Int, value: Value) {
            self.startMinute = startMinute
            self.value = value
        }
    }

    /// A validated entry with its length: `[startMinute, startMinute + durationMinutes)`.
    public struct Segment: Sendable, Hashable {
        public let startMinute: Int
        public let durationMinutes: Int
        public let value: Value
    }

    public static var minutesPerDay: Int { 1440 }
    public static var slotMinutes: Int { 30 }
    public static var maximumEntries: Int { minutesPerDay / slotMinutes }

    public let entries: [Entry]

    public init(_ entries: [Entry]) throws(TherapyValidationError) {
        guard !entries.isEmpty else {
            throw TherapyValidationError(
                code: .scheduleEmpty,
                field: "",
                reason: "the schedule has no entries; give at least one entry starting at minute 0"
            )
        }
        guard entries.count <= Self.maximumEntries else {
            throw TherapyValidationError(
                code: .scheduleTooManyEntries,
                field: "",
                reason: "the schedule has \(entries.count) entries, more than the \(Self.maximumEntries) "
                    + "30-minute slots of a day; merge entries"
            )
        }
        for (index, entry) in entries.enumerated() {
            try Self.validate(entry, at: index, previous: index > 0 ? entries[index - 1] : nil)
        }
        self.entries = entries
    }

    private static func validate(_ entry: Entry, at index: Int, previous: Entry?) throws(TherapyValidationError) {
        let field = "[\(index)].startMinute"
        let start = entry.startMinute
        guard start >= 0, start < minutesPerDay else {
            throw TherapyValidationError(
                code: .scheduleStartOutOfDay,
                field: field,
                reason: "start minute \(start) is outside the day; use 0 to 1410"
            )
        }
        guard start % slotMinutes == 0 else {
            throw TherapyValidationError(
                code: .scheduleStartNotAligned,
                field: field,
                reason: "start minute \(start) is not a multiple of \(slotMinutes); start segments on the hour "
                    + "or half hour"
            )
        }
        guard let previous else {
            guard start == 0 else {
                throw TherapyValidationError(
                    code: .scheduleGapAtMidnight,
                    field: field,
                    reason: "the first entry starts at minute \(start), leaving 00:00 until then uncovered; "
                        + "start the first entry at minute 0"
                )
            }
            return
        }
        guard start != previous.startMinute else {
            throw TherapyValidationError(
                code: .scheduleOverlap,
                field: field,
                reason: "start minute \(start) is used by two entries, so their segments overlap; "
                    + "keep one entry per start time"
            )
        }
        guard start > previous.startMinute else {
            throw TherapyValidationError(
                code: .scheduleUnsorted,
                field: field,
                reason: "start minute \(start) comes after \(previous.startMinute); sort entries by start time"
            )
        }
    }

    /// A schedule with one value for the whole day.
    public init(constant value: Value) {
        self.entries = [Entry(startMinute: 0, value: value)]
    }

    /// The entries with their lengths; the last segment ends at midnight.
    public var segments: [Segment] {
        entries.indices.map { index in
            let end = index + 1 < entries.count ? entries[index + 1].startMinute : Self.minutesPerDay
            let start = entries[index].startMinute
            return Segment(startMinute: start, durationMinutes: end - start, value: entries[index].value)
        }
    }

    /// The value in force at `minute` (0 ..< 1440; other minutes are wrapped into the day).
    public func value(atMinute minute: Int) -> Value {
        let wrapped = ((minute % Self.minutesPerDay) + Self.minutesPerDay) % Self.minutesPerDay
        var current = entries[0].value
        for entry in entries where entry.startMinute <= wrapped {
            current = entry.value
        }
        return current
    }

    /// All values, in start order.
    public var values: [Value] {
        entries.map { $0.value }
    }
}

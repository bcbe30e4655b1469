public import TherapyModel

/// What a pump last reported about itself (its hello, acknowledgements and telemetry), each
/// reading with the time it was taken. A reading older than its freshness limit counts as
/// unknown, and unknown is never read as safe.
public struct ReportedPumpState: Sendable, Hashable {
    public struct Reading<Value: Sendable & Hashable>: Sendable, Hashable {
        public let value: Value
        public let time: Timestamp

        public init(_ value: Value, at time: Timestamp) {
            self.value = value
            self.time = time
        }
    }

    /// Insulin delivery stopped (by a suspend command or a lockout that suspends).
    public var suspended: Reading<Bool>?
    /// Insulin left in the reservoir.
    public var reservoir: Reading<Milliunits>?
    /// The latest CGM glucose.
    public var glucose: Reading<GlucoseMgdL>?
    /// Battery charge in percent (shown; no rule reads it).
    public var batteryPercent: Reading<Int64>?

    /// Each reading from whichever of the two reports has the newer one (the node holding the
    /// pump's session and what another node shared may each have seen something last).
    public func merging(_ other: ReportedPumpState) -> ReportedPumpState {
        func newer<Value>(_ a: Reading<Value>?, _ b: Reading<Value>?) -> Reading<Value>? {
            guard let a else { return b }
            guard let b else { return a }
            return b.time > a.time ? b : a
        }
        return ReportedPumpState(
            suspended: newer(self.suspended, other.suspended),
            reservoir: newer(self.reservoir, other.reservoir),
            glucose: newer(self.glucose, other.glucose),
            batteryPercent: newer(self.batteryPercent, other.batteryPercent)
        )
    }

    public init(
        suspended: Reading<Bool>? = nil,
        reservoir: Reading<Milliunits>? = nil,
        glucose: Reading<GlucoseMgdL>? = nil,
        batteryPercent: Reading<Int64>? = nil
    ) {
        self.suspended = suspended
        self.reservoir = reservoir
        self.glucose = glucose
        self.batteryPercent = batteryPercent
    }

    public static let unknown = ReportedPumpState()

    /// A CGM reading older than this is unknown (CGMs report every 5 minutes; three missed
    /// readings in a row is a lost sensor, as Loop treats it).
    public static let glucoseFreshMinutes: Int64 = 15
    /// Reservoir and delivery mode older than this are unknown (pumps report them at least
    /// every few minutes while connected).
    public static let pumpStateFreshMinutes: Int64 = 60

    public func freshSuspended(now: Timestamp) -> Bool? {
        Self.fresh(suspended, minutes: Self.pumpStateFreshMinutes, now: now)
    }
    public func freshReservoir(now: Timestamp) -> Milliunits? {
        Self.fresh(reservoir, minutes: Self.pumpStateFreshMinutes, now: now)
    }
    public func freshGlucose(now: Timestamp) -> GlucoseMgdL? {
        Self.fresh(glucose, minutes: Self.glucoseFreshMinutes, now: now)
    }

    /// The reading's value if it was taken within `minutes` before `now` (a reading dated in the
    /// future beyond a minute of skew is not trusted either).
    static func fresh<Value>(_ reading: Reading<Value>?, minutes: Int64, now: Timestamp) -> Value? {
        guard let reading else { return nil }
        let age = now.millisecondsSinceEpoch - reading.time.millisecondsSinceEpoch
        guard age <= minutes * 60_000, age >= -60_000 else { return nil }
        return reading.value
    }
}

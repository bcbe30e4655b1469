/// What one pump model can do: its increments, hardware maxima, schedule capacity and
/// the remote controls its firmware accepts. These are physical facts of the device;
/// `PumpHardLimits` checks every change against them.
public struct PumpModel: Sendable, Hashable {
    public let name: String
    /// Smallest bolus increment, e.g. 50 mU (0.05 U).
    public let bolusStep: Milliunits
    /// Smallest basal-rate increment, e.g. 50 mU/h (0.05 U/h).
    public let basalRateStep: MilliunitsPerHour
    /// Largest bolus the hardware can deliver.
    public let maxBolus: Milliunits
    /// Largest basal rate the hardware can deliver (scheduled or temporary).
    public let maxBasalRate: MilliunitsPerHour
    /// Schedule entries the pump can store per schedule (1 ... 48).
    public let maxScheduleEntries: Int
    /// Shortest segment a schedule may have, a multiple of 30 minutes.
    public let minimumSegmentMinutes: Int
    /// Temporary basal durations are multiples of this.
    public let tempBasalDurationStepMinutes: Int
    /// Longest temporary basal.
    public let maxTempBasalDurationMinutes: Int
    /// Remote controls the firmware accepts.
    public let supportedControls: ControlSet

    /// 1000 U (or U/h), the largest maximum a model may declare.
    public static let largestPlausibleMilliunits: Int64 = 1_000_000

    /// Throws when a field cannot describe a real pump (zero steps, a maximum that is not
    /// a whole number of steps, capacities outside a day); `field` names the field.
    public init(
        name: String,
        bolusStep: Milliunits,
        basalRateStep: MilliunitsPerHour,
        maxBolus: Milliunits,
        maxBasalRate: MilliunitsPerHour,
        maxScheduleEntries: Int,
        minimumSegmentMinutes: Int,
        tempBasalDurationStepMinutes: Int,
        maxTempBasalDurationMinutes: Int,
        supportedControls: ControlSet
    ) throws(TherapyValidationError) {
        try Check.positive(bolusStep.rawValue, field: "bolusStepMilliunits")
        try Check.positive(basalRateStep.rawValue, field: "basalRateStepMilliunitsPerHour")
        try Check.positive(maxBolus.rawValue, field: "maxBolusMilliunits")
        try Check.positive(maxBasalRate.rawValue, field: "maxBasalRateMilliunitsPerHour")
        // No pump reservoir holds more than a few hundred units; anything above 1000 U
        // (or 1000 U/h) is a unit mix-up, and the bound keeps all later arithmetic far from overflow.
        try Check.within(1...Self.largestPlausibleMilliunits, maxBolus.rawValue, field: "maxBolusMilliunits")
        try Check.within(
            1...Self.largestPlausibleMilliunits,
            maxBasalRate.rawValue,
            field: "maxBasalRateMilliunitsPerHour"
        )
        guard maxBolus.isMultiple(of: bolusStep) else {
            throw TherapyValidationError(
                code: .valueOutOfRange,
                field: "maxBolusMilliunits",
                reason: "maximum bolus \(maxBolus) is not a multiple of the bolus step \(bolusStep); "
                    + "give the largest deliverable bolus"
            )
        }
        guard maxBasalRate.isMultiple(of: basalRateStep) else {
            throw TherapyValidationError(
                code: .valueOutOfRange,
                field: "maxBasalRateMilliunitsPerHour",
                reason: "maximum basal rate \(maxBasalRate) is not a multiple of the basal step \(basalRateStep); "
                    + "give the largest deliverable rate"
            )
        }
        let maxEntries = DailySchedule<Int>.maximumEntries
        try Check.within(1...Int64(maxEntries), Int64(maxScheduleEntries), field: "maxScheduleEntries")
        try Check.within(30...1440, Int64(minimumSegmentMinutes), field: "minimumSegmentMinutes")
        guard minimumSegmentMinutes % DailySchedule<Int>.slotMinutes == 0 else {
            throw TherapyValidationError(
                code: .valueOutOfRange,
                field: "minimumSegmentMinutes",
                reason: "minimum segment \(minimumSegmentMinutes) min is not a multiple of 30; use 30, 60, …"
            )
        }
        try Check.within(1...1440, Int64(tempBasalDurationStepMinutes), field: "tempBasalDurationStepMinutes")
        try Check.within(
            Int64(tempBasalDurationStepMinutes)...10_080,
            Int64(maxTempBasalDurationMinutes),
            field: "maxTempBasalDurationMinutes"
        )
        self.name = name
        self.bolusStep = bolusStep
        self.basalRateStep = basalRateStep
        self.maxBolus = maxBolus
        self.maxBasalRate = maxBasalRate
        self.maxScheduleEntries = maxScheduleEntries
        self.minimumSegmentMinutes = minimumSegmentMinutes
        self.tempBasalDurationStepMinutes = tempBasalDurationStepMinutes
        self.maxTempBasalDurationMinutes = maxTempBasalDurationMinutes
        self.supportedControls = supportedControls
    }
}

/// The therapy settings stored in a pump (and mirrored by the gateway).
///
/// Each component is validated by its own type (schedules cover the day; correction
/// ranges are ordered); how the values compare to limits is the job of
/// `PumpHardLimits` (the pump) and the safety policy (the gateway).
public struct TherapySettings: Sendable, Hashable {
    public var basalSchedule: DailySchedule<MilliunitsPerHour>
    public var maxBasalRate: MilliunitsPerHour
    public var maxBolus: Milliunits
    public var carbRatioSchedule: DailySchedule<CarbRatio>
    public var sensitivitySchedule: DailySchedule<InsulinSensitivity>
    public var correctionRangeSchedule: DailySchedule<CorrectionRange>
    public var suspendThreshold: GlucoseMgdL

    public init(
        basalSchedule: DailySchedule<MilliunitsPerHour>,
        maxBasalRate: MilliunitsPerHour,
        maxBolus: Milliunits,
        carbRatioSchedule: DailySchedule<CarbRatio>,
        sensitivitySchedule: DailySchedule<InsulinSensitivity>,
        correctionRangeSchedule: DailySchedule<CorrectionRange>,
        suspendThreshold: GlucoseMgdL
    ) {
        self.basalSchedule = basalSchedule
        self.maxBasalRate = maxBasalRate
        self.maxBolus = maxBolus
        self.carbRatioSchedule = carbRatioSchedule
        self.sensitivitySchedule = sensitivitySchedule
        self.correctionRangeSchedule = correctionRangeSchedule
        self.suspendThreshold = suspendThreshold
    }

    /// The settings as they would be after `change`. Deliveries (bolus, temporary basal)
    /// and suspend/resume leave the stored settings as they are.
    public func applying(_ change: SettingChange) -> TherapySettings {
        var result = self
        switch change {
        case .setBasalSchedule(let schedule): result.basalSchedule = schedule
        case .setMaxBasal(let rate): result.maxBasalRate = rate
        case .setMaxBolus(let amount): result.maxBolus = amount
        case .setCarbRatios(let schedule): result.carbRatioSchedule = schedule
        case .setSensitivities(let schedule): result.sensitivitySchedule = schedule
        case .setCorrectionRange(let schedule): result.correctionRangeSchedule = schedule
        case .setSuspendThreshold(let threshold): result.suspendThreshold = threshold
        case .bolus, .tempBasal, .suspend, .resume: break
        }
        return result
    }

    /// The highest rate in the basal schedule.
    public var highestScheduledBasalRate: MilliunitsPerHour {
        basalSchedule.values.max() ?? .zero
    }
}

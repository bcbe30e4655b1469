/// One remote change to a pump: a setting or a delivery. The values are as requested;
/// whether they are allowed is decided by `PumpHardLimits` and the safety policy.
public enum SettingChange: Sendable, Hashable {
    case setBasalSchedule(DailySchedule<MilliunitsPerHour>)
    case tempBasal(rate: MilliunitsPerHour, durationMinutes: Int64)
    case bolus(Milliunits)
    case setMaxBasal(MilliunitsPerHour)
    case setMaxBolus(Milliunits)
    case setCarbRatios(DailySchedule<CarbRatio>)
    case setSensitivities(DailySchedule<InsulinSensitivity>)
    case setCorrectionRange(DailySchedule<CorrectionRange>)
    case setSuspendThreshold(GlucoseMgdL)
    case suspend
    case resume

    public var kind: ControlKind {
        switch self {
        case .setBasalSchedule: .setBasalSchedule
        case .tempBasal: .tempBasal
        case .bolus: .bolus
        case .setMaxBasal: .setMaxBasal
        case .setMaxBolus: .setMaxBolus
        case .setCarbRatios: .setCarbRatios
        case .setSensitivities: .setSensitivities
        case .setCorrectionRange: .setCorrectionRange
        case .setSuspendThreshold: .setSuspendThreshold
        case .suspend: .suspend
        case .resume: .resume
        }
    }
}

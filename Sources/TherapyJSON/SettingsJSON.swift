import TherapyModel

/// A pump's current settings: see `Examples/policy/settings.json`.
struct SettingsJSON: Decodable {
    static let fields = [
        "basalSchedule", "maxBasalRateMilliunitsPerHour", "maxBolusMilliunits", "carbRatioSchedule",
        "sensitivitySchedule", "correctionRangeSchedule", "suspendThresholdMgdL",
    ]

    let value: TherapySettings

    init(from decoder: any Decoder) throws {
        let reader = try FieldReader(decoder, fields: Self.fields)
        value = TherapySettings(
            basalSchedule: try reader.decode(ScheduleJSON<BasalRateFormat>.self, "basalSchedule").schedule,
            maxBasalRate: MilliunitsPerHour(try reader.nonNegative("maxBasalRateMilliunitsPerHour")),
            maxBolus: Milliunits(try reader.nonNegative("maxBolusMilliunits")),
            carbRatioSchedule: try reader.decode(ScheduleJSON<CarbRatioFormat>.self, "carbRatioSchedule").schedule,
            sensitivitySchedule: try reader.decode(ScheduleJSON<SensitivityFormat>.self, "sensitivitySchedule")
                .schedule,
            correctionRangeSchedule: try reader.decode(
                ScheduleJSON<CorrectionRangeFormat>.self,
                "correctionRangeSchedule"
            ).schedule,
            suspendThreshold: GlucoseMgdL(try reader.positive("suspendThresholdMgdL"))
        )
    }
}

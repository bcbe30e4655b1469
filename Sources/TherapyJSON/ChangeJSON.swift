import TherapyModel

/// One requested change, tagged by `kind` (a `ControlKind` raw value):
///
/// | kind                    | other fields                                   |
/// |-------------------------|------------------------------------------------|
/// | `bolus`                 | `milliunits`                                   |
/// | `temp_basal`            | `milliunitsPerHour`, `durationMinutes`         |
/// | `set_basal_schedule`    | `schedule` (entries with `milliunitsPerHour`)  |
/// | `set_max_basal`         | `milliunitsPerHour`                            |
/// | `set_max_bolus`         | `milliunits`                                   |
/// | `set_carb_ratios`       | `schedule` (entries with `gramsPerUnit`)       |
/// | `set_sensitivities`     | `schedule` (entries with `mgdLPerUnit`)        |
/// | `set_correction_range`  | `schedule` (entries with `lowerMgdL`, `upperMgdL`) |
/// | `set_suspend_threshold` | `mgdL`                                         |
/// | `suspend`, `resume`     | none                                           |
struct ChangeJSON: Decodable {
    let value: SettingChange

    init(from decoder: any Decoder) throws {
        let kind = try FieldReader(tagOf: decoder).oneOf(ControlKind.self, "kind")
        let reader = try FieldReader(decoder, fields: ["kind"] + Self.fields(for: kind))
        switch kind {
        case .bolus:
            value = .bolus(Milliunits(try reader.nonNegative("milliunits")))
        case .tempBasal:
            value = .tempBasal(
                rate: MilliunitsPerHour(try reader.nonNegative("milliunitsPerHour")),
                durationMinutes: try reader.positive("durationMinutes")
            )
        case .setBasalSchedule:
            value = .setBasalSchedule(try reader.decode(ScheduleJSON<BasalRateFormat>.self, "schedule").schedule)
        case .setMaxBasal:
            value = .setMaxBasal(MilliunitsPerHour(try reader.nonNegative("milliunitsPerHour")))
        case .setMaxBolus:
            value = .setMaxBolus(Milliunits(try reader.nonNegative("milliunits")))
        case .setCarbRatios:
            value = .setCarbRatios(try reader.decode(ScheduleJSON<CarbRatioFormat>.self, "schedule").schedule)
        case .setSensitivities:
            value = .setSensitivities(try reader.decode(ScheduleJSON<SensitivityFormat>.self, "schedule").schedule)
        case .setCorrectionRange:
            value = .setCorrectionRange(
                try reader.decode(ScheduleJSON<CorrectionRangeFormat>.self, "schedule").schedule
            )
        case .setSuspendThreshold:
            value = .setSuspendThreshold(GlucoseMgdL(try reader.positive("mgdL")))
        case .suspend:
            value = .suspend
        case .resume:
            value = .resume
        }
    }

    private static func fields(for kind: ControlKind) -> [String] {
        switch kind {
        case .bolus, .setMaxBolus: ["milliunits"]
        case .tempBasal: ["milliunitsPerHour", "durationMinutes"]
        case .setMaxBasal: ["milliunitsPerHour"]
        case .setBasalSchedule, .setCarbRatios, .setSensitivities, .setCorrectionRange: ["schedule"]
        case .setSuspendThreshold: ["mgdL"]
        case .suspend, .resume: []
        }
    }
}

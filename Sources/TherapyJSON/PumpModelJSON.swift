import TherapyModel

/// A pump model file: see `Examples/policy/pump-model.json`.
struct PumpModelJSON: Decodable {
    static let fields = [
        "name", "bolusStepMilliunits", "basalRateStepMilliunitsPerHour", "maxBolusMilliunits",
        "maxBasalRateMilliunitsPerHour", "maxScheduleEntries", "minimumSegmentMinutes",
        "tempBasalDurationStepMinutes", "maxTempBasalDurationMinutes", "supportedControls",
    ]

    let value: PumpModel

    init(from decoder: any Decoder) throws {
        let reader = try FieldReader(decoder, fields: Self.fields)
        let name = try reader.string("name")
        let bolusStep = Milliunits(try reader.decode(Int64.self, "bolusStepMilliunits"))
        let basalRateStep = MilliunitsPerHour(try reader.decode(Int64.self, "basalRateStepMilliunitsPerHour"))
        let maxBolus = Milliunits(try reader.decode(Int64.self, "maxBolusMilliunits"))
        let maxBasalRate = MilliunitsPerHour(try reader.decode(Int64.self, "maxBasalRateMilliunitsPerHour"))
        let maxScheduleEntries = try reader.decode(Int.self, "maxScheduleEntries")
        let minimumSegmentMinutes = try reader.decode(Int.self, "minimumSegmentMinutes")
        let tempBasalStep = try reader.decode(Int.self, "tempBasalDurationStepMinutes")
        let maxTempBasal = try reader.decode(Int.self, "maxTempBasalDurationMinutes")
        guard let controls = try reader.controls("supportedControls") else {
            throw reader.error("supportedControls", .missingField, "is missing; list the controls the pump accepts")
        }
        value = try reader.validated { () throws(TherapyValidationError) in
            try PumpModel(
                name: name,
                bolusStep: bolusStep,
                basalRateStep: basalRateStep,
                maxBolus: maxBolus,
                maxBasalRate: maxBasalRate,
                maxScheduleEntries: maxScheduleEntries,
                minimumSegmentMinutes: minimumSegmentMinutes,
                tempBasalDurationStepMinutes: tempBasalStep,
                maxTempBasalDurationMinutes: maxTempBasal,
                supportedControls: controls
            )
        }
    }
}

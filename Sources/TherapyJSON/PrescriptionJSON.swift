import TherapyModel

/// A clinician's prescription: see `Examples/policy/prescription.json`.
struct PrescriptionJSON: Decodable {
    static let fields = [
        "patientId", "maxBolusMilliunits", "maxBasalRateMilliunitsPerHour", "maxDailyTotalMilliunits",
        "carbRatioGramsPerUnit", "sensitivityMgdLPerUnit", "correctionRangeMgdL", "suspendThresholdMgdL",
        "enabledControls", "insulinType", "maxInsulinOnBoardMilliunits",
    ]

    /// `{"min": 5, "max": 25}`, both positive, `min ≤ max`.
    struct RangeJSON: Decodable {
        let min: Int64
        let max: Int64

        init(from decoder: any Decoder) throws {
            let reader = try FieldReader(decoder, fields: ["min", "max"])
            min = try reader.positive("min")
            max = try reader.positive("max")
            guard min <= max else {
                throw reader.error(
                    "min",
                    .invalidValue,
                    "min \(min) is above max \(max); give the smaller value as min"
                )
            }
        }
    }

    let value: Prescription

    init(from decoder: any Decoder) throws {
        let reader = try FieldReader(decoder, fields: Self.fields)
        let patientID = try reader.string("patientId")
        let maxBolus = Milliunits(try reader.positive("maxBolusMilliunits"))
        let maxBasalRate = MilliunitsPerHour(try reader.nonNegative("maxBasalRateMilliunitsPerHour"))
        let maxDailyTotal = Milliunits(try reader.positive("maxDailyTotalMilliunits"))
        let carb = try reader.decode(RangeJSON.self, "carbRatioGramsPerUnit")
        let sensitivity = try reader.decode(RangeJSON.self, "sensitivityMgdLPerUnit")
        let correction = try reader.decode(RangeJSON.self, "correctionRangeMgdL")
        let suspend = try reader.decode(RangeJSON.self, "suspendThresholdMgdL")
        let insulin =
            try reader.decodeIfPresent(String.self, "insulinType") == nil
            ? InsulinModel.Kind.rapidActing : try reader.oneOf(InsulinModel.Kind.self, "insulinType")
        let maxIOB =
            try reader.decodeIfPresent(Int64.self, "maxInsulinOnBoardMilliunits") == nil
            ? nil : Milliunits(try reader.positive("maxInsulinOnBoardMilliunits"))
        guard let controls = try reader.controls("enabledControls") else {
            throw reader.error("enabledControls", .missingField, "is missing; list the controls the clinician enables")
        }
        value = try reader.validated { () throws(TherapyValidationError) in
            try Prescription(
                patientID: patientID,
                maxBolus: maxBolus,
                maxBasalRate: maxBasalRate,
                maxDailyTotal: maxDailyTotal,
                carbRatioRange: CarbRatio(gramsPerUnit: carb.min)...CarbRatio(gramsPerUnit: carb.max),
                sensitivityRange: InsulinSensitivity(
                    mgdLPerUnit: sensitivity.min
                )...InsulinSensitivity(
                    mgdLPerUnit: sensitivity.max
                ),
                correctionRange: GlucoseMgdL(correction.min)...GlucoseMgdL(correction.max),
                suspendThresholdRange: GlucoseMgdL(suspend.min)...GlucoseMgdL(suspend.max),
                enabledControls: controls,
                insulinModel: InsulinModel(kind: insulin),
                maxInsulinOnBoard: maxIOB
            )
        }
    }
}

public import TherapyModel

/// What a new simulated pump starts with.
public enum PumpDefaults {
    /// The simulator's pump model: a typical 0.05 U pump accepting every control.
    public static let simulatorModel: PumpModel = typicalModel(named: "MedTunnel simulated pump")

    /// A typical 0.05 U pump accepting every control, named `name` (at most 64 printable ASCII
    /// characters): the simulator's, and the firmware's "Example 0.05 U pump"
    /// (Examples/policy/pump-model.json).
    public static func typicalModel(named name: String) -> PumpModel {
        try! PumpModel(
            name: name,
            bolusStep: Milliunits(50),
            basalRateStep: MilliunitsPerHour(50),
            maxBolus: Milliunits(25_000),
            maxBasalRate: MilliunitsPerHour(35_000),
            maxScheduleEntries: 24,
            minimumSegmentMinutes: 30,
            tempBasalDurationStepMinutes: 30,
            maxTempBasalDurationMinutes: 720,
            supportedControls: .all
        )
    }

    /// Factory settings: no basal until a clinician programs one; maximum basal 2 U/h and
    /// maximum bolus 10 U (or the model's maximum if lower, on its steps); carb ratio
    /// 15 g/U; sensitivity 50 mg/dL/U; correction range 100–120 mg/dL; suspend at 70 mg/dL.
    public static func factorySettings(for model: PumpModel) -> TherapySettings {
        let maxBasal = min(MilliunitsPerHour(2_000), model.maxBasalRate).truncated(toMultipleOf: model.basalRateStep)
        let bolus = min(Milliunits(10_000), model.maxBolus).rawValue
        let step = model.bolusStep.rawValue
        return TherapySettings(
            basalSchedule: DailySchedule(constant: .zero),
            maxBasalRate: maxBasal,
            maxBolus: Milliunits(bolus - bolus % step),
            carbRatioSchedule: DailySchedule(constant: CarbRatio(gramsPerUnit: 15)),
            sensitivitySchedule: DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: 50)),
            correctionRangeSchedule: DailySchedule(
                constant: try! CorrectionRange(lower: GlucoseMgdL(100), upper: GlucoseMgdL(120))
            ),
            suspendThreshold: GlucoseMgdL(70)
        )
    }
}

import TherapyModel

/// Shared values for the model tests: a typical 0.05 U pump and matching settings.
enum ModelFixtures {
    static func pump(
        maxBolus: Int64 = 25_000,
        maxBasal: Int64 = 35_000,
        maxEntries: Int = 24,
        minimumSegment: Int = 30,
        controls: ControlSet = .all
    ) -> PumpModel {
        // The arguments are valid by construction; a failure here is a broken fixture.
        try! PumpModel(
            name: "Test pump",
            bolusStep: Milliunits(50),
            basalRateStep: MilliunitsPerHour(50),
            maxBolus: Milliunits(maxBolus),
            maxBasalRate: MilliunitsPerHour(maxBasal),
            maxScheduleEntries: maxEntries,
            minimumSegmentMinutes: minimumSegment,
            tempBasalDurationStepMinutes: 30,
            maxTempBasalDurationMinutes: 720,
            supportedControls: controls
        )
    }

    static func settings(maxBolus: Int64 = 10_000, maxBasal: Int64 = 3_000) -> TherapySettings {
        TherapySettings(
            basalSchedule: basal([(0, 800), (360, 1000)]),
            maxBasalRate: MilliunitsPerHour(maxBasal),
            maxBolus: Milliunits(maxBolus),
            carbRatioSchedule: DailySchedule(constant: CarbRatio(gramsPerUnit: 10)),
            sensitivitySchedule: DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: 45)),
            correctionRangeSchedule: DailySchedule(
                constant: try! CorrectionRange(lower: GlucoseMgdL(100), upper: GlucoseMgdL(120))
            ),
            suspendThreshold: GlucoseMgdL(75)
        )
    }

    /// A basal schedule from `(startMinute, milliunitsPerHour)` pairs; must be valid.
    static func basal(_ entries: [(Int, Int64)]) -> DailySchedule<MilliunitsPerHour> {
        try! DailySchedule(entries.map { .init(startMinute: $0.0, value: MilliunitsPerHour($0.1)) })
    }

    /// The validation error code thrown by `body`, or `nil` when it does not throw.
    static func validationCode(_ body: () throws(TherapyValidationError) -> Void) -> TherapyValidationError.Code? {
        do {
            try body()
            return nil
        } catch {
            return error.code
        }
    }

    static func codes(_ verdict: HardLimitVerdict) -> [String] {
        verdict.violations.map(\.code.rawValue)
    }
}

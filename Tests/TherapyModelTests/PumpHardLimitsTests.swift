import Testing
import TherapyModel

/// The pump-side entry point: hardware maxima, increments, configured maxima, schedule
/// capacity. Boundaries at, one step below and one step above each limit.
@Suite("PumpHardLimits")
struct PumpHardLimitsTests {
    private let pump = ModelFixtures.pump()
    private let settings = ModelFixtures.settings()

    private func codes(_ change: SettingChange, settings: TherapySettings? = nil, pump: PumpModel? = nil) -> [String] {
        ModelFixtures.codes(PumpHardLimits.check(change, settings: settings ?? self.settings, model: pump ?? self.pump))
    }

    @Test(
        "bolus against the configured maximum bolus (10 U)",
        arguments: [(9_950, []), (10_000, []), (10_050, ["max_bolus_exceeded"])] as [(Int64, [String])]
    )
    func bolusAgainstMaxBolusSetting(amount: Int64, expected: [String]) {
        #expect(codes(.bolus(Milliunits(amount))) == expected)
    }

    @Test(
        "bolus against the hardware maximum (25 U)",
        arguments: [(24_950, []), (25_000, []), (25_050, ["pump_bolus_maximum_exceeded"])] as [(Int64, [String])]
    )
    func bolusAgainstHardware(amount: Int64, expected: [String]) {
        let generous = ModelFixtures.settings(maxBolus: 30_000)
        #expect(codes(.bolus(Milliunits(amount)), settings: generous) == expected)
    }

    @Test(
        "bolus increments are never rounded",
        arguments: [(25, ["pump_increment_mismatch"]), (50, []), (75, ["pump_increment_mismatch"]), (100, [])]
            as [(Int64, [String])]
    )
    func bolusIncrement(amount: Int64, expected: [String]) {
        #expect(codes(.bolus(Milliunits(amount))) == expected)
    }

    @Test(
        "absurd boluses are refused without trapping",
        arguments: [
            (0, ["amount_not_positive"]),
            (-50, ["amount_not_positive"]),
            (Int64.min, ["amount_not_positive"]),
            (Int64.max, ["pump_increment_mismatch", "pump_bolus_maximum_exceeded", "max_bolus_exceeded"]),
        ] as [(Int64, [String])]
    )
    func absurdBolus(amount: Int64, expected: [String]) {
        #expect(codes(.bolus(Milliunits(amount))) == expected)
    }

    @Test(
        "temporary basal rate against the maximum basal rate (3 U/h)",
        arguments: [
            (2_950, []), (3_000, []), (3_050, ["max_basal_exceeded"]), (0, []), (-50, ["rate_negative"]),
            (3_025, ["pump_increment_mismatch", "max_basal_exceeded"]),
            (Int64.max, ["pump_increment_mismatch", "pump_basal_maximum_exceeded", "max_basal_exceeded"]),
        ] as [(Int64, [String])]
    )
    func tempBasalRate(rate: Int64, expected: [String]) {
        #expect(codes(.tempBasal(rate: MilliunitsPerHour(rate), durationMinutes: 30)) == expected)
    }

    @Test(
        "temporary basal rate against the hardware maximum (35 U/h)",
        arguments: [(34_950, []), (35_000, []), (35_050, ["pump_basal_maximum_exceeded"])] as [(Int64, [String])]
    )
    func tempBasalHardware(rate: Int64, expected: [String]) {
        let generous = ModelFixtures.settings(maxBasal: 40_000)
        #expect(codes(.tempBasal(rate: MilliunitsPerHour(rate), durationMinutes: 30), settings: generous) == expected)
    }

    @Test(
        "temporary basal duration: 30-minute steps up to 12 hours",
        arguments: [
            (30, true), (720, true), (690, true), (0, false), (-30, false), (29, false), (31, false), (750, false),
            (Int64.max, false), (Int64.min, false),
        ] as [(Int64, Bool)]
    )
    func tempBasalDuration(minutes: Int64, valid: Bool) {
        let found = codes(.tempBasal(rate: MilliunitsPerHour(1000), durationMinutes: minutes))
        #expect(found == (valid ? [] : ["temp_basal_duration_invalid"]))
    }

    @Test func scheduleCapacityIsThePumpsEntryCount() {
        let entries24 = Array(stride(from: 0, to: 24 * 30, by: 30)).map { ($0, Int64(800)) }
        #expect(codes(.setBasalSchedule(ModelFixtures.basal(entries24))) == [])
        #expect(
            codes(.setBasalSchedule(ModelFixtures.basal(entries24 + [(720, 800)]))) == [
                "pump_schedule_too_many_entries"
            ]
        )
    }

    @Test func segmentsShorterThanThePumpMinimumAreRefused() {
        let hourly = ModelFixtures.pump(minimumSegment: 60)
        let ok = ModelFixtures.basal([(0, 800), (60, 900)])
        let short = ModelFixtures.basal([(0, 800), (60, 900), (90, 800)])
        #expect(codes(.setBasalSchedule(ok), pump: hourly) == [])
        #expect(codes(.setBasalSchedule(short), pump: hourly) == ["pump_schedule_segment_too_short"])
        let lastSegmentShort = ModelFixtures.basal([(0, 800), (1410, 900)])
        #expect(codes(.setBasalSchedule(lastSegmentShort), pump: hourly) == ["pump_schedule_segment_too_short"])
    }

    @Test func scheduledRatesObeyIncrementsAndMaxBasal() {
        let schedule = ModelFixtures.basal([(0, 3_000), (60, 3_050), (120, 825)])
        #expect(codes(.setBasalSchedule(schedule)) == ["max_basal_exceeded", "pump_increment_mismatch"])
    }

    @Test(
        "maximum basal rate may not drop below the highest scheduled rate (1 U/h)",
        arguments: [(950, ["max_basal_below_scheduled_basal"]), (1_000, []), (1_050, [])] as [(Int64, [String])]
    )
    func maxBasalAgainstSchedule(rate: Int64, expected: [String]) {
        #expect(codes(.setMaxBasal(MilliunitsPerHour(rate))) == expected)
    }

    @Test func maxBolusSettingObeysHardware() {
        #expect(codes(.setMaxBolus(Milliunits(25_000))) == [])
        #expect(codes(.setMaxBolus(Milliunits(25_050))) == ["pump_bolus_maximum_exceeded"])
        #expect(codes(.setMaxBolus(Milliunits(0))) == ["amount_not_positive"])
    }

    @Test func unsupportedControlIsRefusedFirst() {
        let bolusOnly = ModelFixtures.pump(controls: ControlSet([.bolus]))
        #expect(codes(.suspend, pump: bolusOnly) == ["pump_control_not_supported"])
        #expect(codes(.bolus(Milliunits(25)), pump: bolusOnly) == ["pump_increment_mismatch"])
    }

    @Test func nonPositiveRatiosAndTargetsAreRefused() {
        let ratios = try! DailySchedule([.init(startMinute: 0, value: CarbRatio(gramsPerUnit: 0))])
        #expect(codes(.setCarbRatios(ratios)) == ["value_not_positive"])
        let sensitivity = DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: -5))
        #expect(codes(.setSensitivities(sensitivity)) == ["value_not_positive"])
        #expect(codes(.setSuspendThreshold(GlucoseMgdL(0))) == ["value_not_positive"])
        #expect(codes(.setSuspendThreshold(GlucoseMgdL(70))) == [])
    }

    @Test func messagesNameTheValueAndTheLimit() {
        let violation = PumpHardLimits.check(.bolus(Milliunits(25)), settings: settings, model: pump).violations.first
        #expect(violation?.message.contains("0.025 U") == true)
        #expect(violation?.message.contains("0.05 U") == true)
    }

    @Test func implausiblyLargePumpMaximaAreRefused() {
        let thrown = ModelFixtures.validationCode { () throws(TherapyValidationError) in
            _ = try PumpModel(
                name: "Absurd",
                bolusStep: Milliunits(1 << 62),
                basalRateStep: MilliunitsPerHour(50),
                maxBolus: Milliunits(1 << 62),
                maxBasalRate: MilliunitsPerHour(35_000),
                maxScheduleEntries: 24,
                minimumSegmentMinutes: 30,
                tempBasalDurationStepMinutes: 30,
                maxTempBasalDurationMinutes: 720,
                supportedControls: .all
            )
        }
        #expect(thrown == .valueOutOfRange)
    }

    @Test(
        "pump models that cannot exist are refused, naming the field",
        arguments: [
            (0, 50, 24, "bolusStepMilliunits", "value_not_positive"),
            (50, 0, 24, "basalRateStepMilliunitsPerHour", "value_not_positive"),
            (50, 50, 0, "maxScheduleEntries", "value_out_of_range"),
            (50, 50, 49, "maxScheduleEntries", "value_out_of_range"),
            (30, 50, 24, "maxBolusMilliunits", "value_out_of_range"),
        ] as [(Int64, Int64, Int, String, String)]
    )
    func invalidPumpModel(bolusStep: Int64, basalStep: Int64, entries: Int, field: String, code: String) {
        do {
            _ = try PumpModel(
                name: "Broken",
                bolusStep: Milliunits(bolusStep),
                basalRateStep: MilliunitsPerHour(basalStep),
                maxBolus: Milliunits(25_000),
                maxBasalRate: MilliunitsPerHour(35_000),
                maxScheduleEntries: entries,
                minimumSegmentMinutes: 30,
                tempBasalDurationStepMinutes: 30,
                maxTempBasalDurationMinutes: 720,
                supportedControls: .all
            )
            Issue.record("an invalid pump model was accepted")
        } catch {
            #expect(error.field == field)
            #expect(error.code.rawValue == code)
        }
    }
}

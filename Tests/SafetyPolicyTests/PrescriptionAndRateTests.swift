import SafetyPolicy
import Testing
import TherapyModel

/// The prescription (max bolus 10 U, max basal 3 U/h, 60 U a day, ranges) and the
/// rate rules: 1.5 × max bolus per 60 minutes, the daily total, basal schedule raises.
@Suite("Prescription, rates and totals")
struct PrescriptionAndRateTests {
    private typealias F = PolicyFixtures

    private func evaluate(
        _ change: SettingChange,
        by role: ActorRole = .patient,
        settings: TherapySettings = F.settings(),
        history: [DeliveryHistory.Record] = []
    ) -> Outcome {
        F.evaluate(change, by: role, in: F.context(settings: settings, history: DeliveryHistory(records: history)))
    }

    @Test(
        "bolus against the prescribed maximum (10 U)",
        arguments: [(9_950, Outcome.accept), (10_000, .accept), (10_050, .reject("prescription_max_bolus_exceeded"))]
            as [(Int64, Outcome)]
    )
    func bolusPrescription(amount: Int64, expected: Outcome) {
        #expect(evaluate(.bolus(Milliunits(amount)), settings: F.settings(maxBolus: 15_000)) == expected)
    }

    @Test(
        "boluses in 60 minutes at most 1.5 × max bolus (6 U given, limit 15 U)",
        arguments: [(8_950, Outcome.accept), (9_000, .accept), (9_050, .reject("bolus_hourly_total_exceeded"))]
            as [(Int64, Outcome)]
    )
    func hourlyBolusTotal(amount: Int64, expected: Outcome) {
        let history = [F.delivery(.bolus, 6_000, minutesAgo: 30), F.delivery(.basal, 20_000, minutesAgo: 10)]
        #expect(evaluate(.bolus(Milliunits(amount)), history: history) == expected)
    }

    @Test func hourlyWindowIncludesExactlySixtyMinutesAgo() {
        let atEdge = DeliveryHistory.Record(
            time: F.now.advanced(byMinutes: -60),
            kind: .bolus,
            amount: Milliunits(6_000)
        )
        let justOutside = DeliveryHistory.Record(
            time: Timestamp(millisecondsSinceEpoch: atEdge.time.millisecondsSinceEpoch - 1),
            kind: .bolus,
            amount: Milliunits(6_000)
        )
        #expect(evaluate(.bolus(Milliunits(9_050)), history: [atEdge]) == .reject("bolus_hourly_total_exceeded"))
        #expect(evaluate(.bolus(Milliunits(9_050)), history: [justOutside]) == .accept)
    }

    @Test func hourlyLimitUsesTheLowerOfSettingAndPrescription() {
        // Max bolus setting 4 U (prescription 10 U): limit 6 U an hour.
        let settings = F.settings(maxBolus: 4_000)
        let history = [F.delivery(.bolus, 3_000, minutesAgo: 5)]
        #expect(evaluate(.bolus(Milliunits(3_000)), settings: settings, history: history) == .accept)
        #expect(
            evaluate(.bolus(Milliunits(3_050)), settings: settings, history: history)
                == .reject("bolus_hourly_total_exceeded")
        )
    }

    @Test(
        "insulin in 24 hours within the prescription (51 U given, limit 60 U)",
        arguments: [(9_000, Outcome.accept), (9_050, .reject("prescription_daily_total_exceeded"))]
            as [(Int64, Outcome)]
    )
    func dailyTotal(amount: Int64, expected: Outcome) {
        let history = [F.delivery(.basal, 41_000, minutesAgo: 600), F.delivery(.bolus, 10_000, minutesAgo: 24 * 60)]
        #expect(evaluate(.bolus(Milliunits(amount)), history: history) == expected)
    }

    @Test func deliveriesOlderThanADayDoNotCount() {
        let old = DeliveryHistory.Record(
            time: Timestamp(millisecondsSinceEpoch: F.now.advanced(byMinutes: -24 * 60).millisecondsSinceEpoch - 1),
            kind: .basal,
            amount: Milliunits(60_000)
        )
        #expect(evaluate(.bolus(Milliunits(1_000)), history: [old]) == .accept)
    }

    @Test func absurdHistoryCannotOverflowIntoAnAccept() {
        let huge = F.delivery(.bolus, Int64.max, minutesAgo: 1)
        #expect(
            evaluate(.bolus(Milliunits(1_000)), history: [huge, huge])
                == .reject("bolus_hourly_total_exceeded", "prescription_daily_total_exceeded")
        )
    }

    @Test func temporaryBasalCountsTowardsTheDailyTotal() {
        let history = [F.delivery(.basal, 59_000, minutesAgo: 120)]
        let oneUnit = SettingChange.tempBasal(rate: MilliunitsPerHour(1_000), durationMinutes: 60)
        let oneAndAHalf = SettingChange.tempBasal(rate: MilliunitsPerHour(1_000), durationMinutes: 90)
        #expect(evaluate(oneUnit, history: history) == .accept)
        #expect(evaluate(oneAndAHalf, history: history) == .reject("prescription_daily_total_exceeded"))
    }

    @Test func temporaryBasalNeverAboveMaxBasal() {
        let at = SettingChange.tempBasal(rate: MilliunitsPerHour(3_000), durationMinutes: 30)
        let above = SettingChange.tempBasal(rate: MilliunitsPerHour(3_050), durationMinutes: 30)
        #expect(evaluate(at) == .accept)
        #expect(evaluate(above) == .reject("max_basal_exceeded", "prescription_max_basal_exceeded"))
        // With a higher max basal setting the prescription still holds.
        #expect(evaluate(above, settings: F.settings(maxBasal: 4_000)) == .reject("prescription_max_basal_exceeded"))
    }

    @Test func settingsNeverExceedThePrescription() {
        #expect(evaluate(.setMaxBolus(Milliunits(10_000)), by: .clinician) == .accept)
        #expect(
            evaluate(.setMaxBolus(Milliunits(10_050)), by: .clinician) == .reject("prescription_max_bolus_exceeded")
        )
        #expect(evaluate(.setMaxBasal(MilliunitsPerHour(3_000)), by: .clinician) == .accept)
        #expect(
            evaluate(.setMaxBasal(MilliunitsPerHour(3_050)), by: .clinician)
                == .reject("prescription_max_basal_exceeded")
        )
        let highBasal = SettingChange.setBasalSchedule(F.basalSchedule([(0, 3_050)]))
        #expect(
            evaluate(highBasal, settings: F.settings(basal: [(0, 3_000)], maxBasal: 4_000))
                == .reject("prescription_max_basal_exceeded")
        )
    }

    @Test(
        "prescribed carb ratio range 5–25 g/U",
        arguments: [
            (5, Outcome.accept), (4, .reject("prescription_carb_ratio_range")), (25, .accept),
            (26, .reject("prescription_carb_ratio_range")),
        ] as [(Int64, Outcome)]
    )
    func carbRatioRange(value: Int64, expected: Outcome) {
        let change = SettingChange.setCarbRatios(DailySchedule(constant: CarbRatio(gramsPerUnit: value)))
        #expect(evaluate(change, settings: F.settings(maxBasal: 2_000)) == expected)
    }

    @Test(
        "prescribed sensitivity range 20–150 mg/dL/U",
        arguments: [
            (20, Outcome.accept), (19, .reject("prescription_sensitivity_range")), (150, .accept),
            (151, .reject("prescription_sensitivity_range")),
        ] as [(Int64, Outcome)]
    )
    func sensitivityRange(value: Int64, expected: Outcome) {
        let change = SettingChange.setSensitivities(DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: value)))
        #expect(evaluate(change) == expected)
    }

    @Test(
        "prescribed correction range 90–150 mg/dL",
        arguments: [
            ((90, 120), Outcome.approval("correction_range_outside_recommended")),
            ((89, 120), .reject("prescription_correction_range")),
            ((100, 150), .approval("correction_range_outside_recommended")),
            ((100, 151), .reject("prescription_correction_range")),
        ] as [((Int64, Int64), Outcome)]
    )
    func correctionRange(bounds: (Int64, Int64), expected: Outcome) {
        #expect(evaluate(.setCorrectionRange(F.correctionSchedule(bounds.0, bounds.1))) == expected)
    }

    @Test(
        "prescribed suspend threshold range 70–90 mg/dL",
        arguments: [
            (70, Outcome.approval("suspend_threshold_outside_recommended")),
            (69, .reject("prescription_suspend_threshold_range")),
            (90, .approval("suspend_threshold_outside_recommended")),
            (91, .reject("prescription_suspend_threshold_range")),
        ] as [(Int64, Outcome)]
    )
    func suspendThresholdRange(value: Int64, expected: Outcome) {
        #expect(evaluate(.setSuspendThreshold(GlucoseMgdL(value))) == expected)
    }

    @Test func correctionRangeStaysAboveSuspendThreshold() {
        let settings = F.settings(suspendThreshold: 95)
        #expect(evaluate(.setCorrectionRange(F.correctionSchedule(95, 120)), settings: settings).decision != "reject")
        #expect(
            evaluate(.setCorrectionRange(F.correctionSchedule(94, 120)), settings: settings)
                == .reject("correction_range_below_suspend_threshold")
        )
        // And the other way round: the threshold may not rise above the lowest correction bound (100).
        #expect(
            evaluate(.setSuspendThreshold(GlucoseMgdL(101)), settings: F.settings(correction: (100, 120)))
                == .reject("prescription_suspend_threshold_range", "correction_range_below_suspend_threshold")
        )
    }

    @Test func lowerCarbRatioMayNotPushMaxBasalOverItsBound() {
        // Max basal 3 U/h: 70 / 23 = 3.04 U/h fits, 70 / 24 = 2.9 U/h does not.
        let fits = SettingChange.setCarbRatios(DailySchedule(constant: CarbRatio(gramsPerUnit: 23)))
        let tooHigh = SettingChange.setCarbRatios(DailySchedule(constant: CarbRatio(gramsPerUnit: 24)))
        #expect(evaluate(fits) == .accept)
        #expect(evaluate(tooHigh) == .reject("max_basal_outside_absolute"))
    }

    @Test(
        "a basal raise above 20 % (at least 0.1 U/h) in any slot needs approval",
        arguments: [
            ([(0, 800), (360, 1200), (720, 900), (1260, 800)], Outcome.accept),  // +0.2 U/h = 20 %
            ([(0, 800), (360, 1250), (720, 900), (1260, 800)], .approval("basal_schedule_raise")),
            ([(0, 950), (360, 1000), (720, 900), (1260, 800)], .accept),  // +0.15 U/h < 0.16 U/h
            ([(0, 1000), (360, 1000), (720, 900), (1260, 800)], .approval("basal_schedule_raise")),
            ([(0, 500)], .accept),  // lowering never needs approval
            (
                [(0, 800), (90, 1000), (120, 800), (360, 1000), (720, 900), (1260, 800)],
                .approval("basal_schedule_raise")
            ),
        ] as [([(Int, Int64)], Outcome)]
    )
    func basalRaise(entries: [(Int, Int64)], expected: Outcome) {
        #expect(evaluate(.setBasalSchedule(F.basalSchedule(entries))) == expected)
    }

    @Test func lowRatesMayRiseByTheFloor() {
        let settings = F.settings(basal: [(0, 100)])
        #expect(evaluate(.setBasalSchedule(F.basalSchedule([(0, 200)])), settings: settings) == .accept)
        #expect(
            evaluate(.setBasalSchedule(F.basalSchedule([(0, 250)])), settings: settings)
                == .approval("basal_schedule_raise")
        )
    }

    @Test func raiseMessageNamesTheSlot() {
        let change = SettingChange.setBasalSchedule(
            F.basalSchedule([(0, 800), (90, 1000), (120, 800), (360, 1000), (720, 900), (1260, 800)])
        )
        let decision = TherapyPolicy.evaluate(change, by: F.actor(.patient), context: F.context())
        #expect(
            decision.reasons.map(\.message) == [
                "basal rate from minute 90 rises from 0.8 U/h to 1 U/h, more than the 0.16 U/h allowed without approval "
                    + "(20 % or 0.1 U/h); a second clinician must approve it"
            ]
        )
    }
}

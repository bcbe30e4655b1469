import SafetyPolicy
import Testing
import TherapyModel

/// LoopKit's two-tier guardrails at, one step below and one step above each bound.
/// The prescription is `PolicyFixtures.wide` so only the guardrail decides.
@Suite("Guardrail boundaries")
struct GuardrailBoundaryTests {
    private typealias F = PolicyFixtures

    private func evaluate(
        _ change: SettingChange,
        settings: TherapySettings = F.settings(),
        by role: ActorRole = .clinician
    )
        -> Outcome
    {
        F.evaluate(
            change,
            by: role,
            in: F.context(settings: settings, model: F.model(maxBolus: 40_000, maxBasal: 40_000), prescription: F.wide)
        )
    }

    @Test(
        "correction range 87–180 absolute, 100–125 recommended",
        arguments: [
            ((100, 120), Outcome.accept),
            ((99, 120), .approval("correction_range_outside_recommended")),
            ((87, 120), .approval("correction_range_outside_recommended")),
            ((86, 120), .reject("correction_range_outside_absolute")),
            ((100, 125), .accept),
            ((100, 126), .approval("correction_range_outside_recommended")),
            ((100, 180), .approval("correction_range_outside_recommended")),
            ((100, 181), .reject("correction_range_outside_absolute")),
        ] as [((Int64, Int64), Outcome)]
    )
    func correctionRange(bounds: (Int64, Int64), expected: Outcome) {
        #expect(evaluate(.setCorrectionRange(F.correctionSchedule(bounds.0, bounds.1))) == expected)
    }

    @Test(
        "suspend threshold 67–110 absolute, 74–80 recommended",
        arguments: [
            (74, Outcome.accept), (73, .approval("suspend_threshold_outside_recommended")),
            (67, .approval("suspend_threshold_outside_recommended")),
            (66, .reject("suspend_threshold_outside_absolute")),
            (80, .accept), (81, .approval("suspend_threshold_outside_recommended")),
            (110, .approval("suspend_threshold_outside_recommended")),
            (111, .reject("suspend_threshold_outside_absolute")),
        ] as [(Int64, Outcome)]
    )
    func suspendThreshold(value: Int64, expected: Outcome) {
        // Correction range 115–125 so the threshold may go up to 110 without crossing it.
        let settings = F.settings(correction: (115, 125))
        #expect(evaluate(.setSuspendThreshold(GlucoseMgdL(value)), settings: settings) == expected)
    }

    @Test(
        "sensitivity 10–500 absolute, 16–399 recommended",
        arguments: [
            (16, Outcome.accept), (15, .approval("sensitivity_outside_recommended")),
            (10, .approval("sensitivity_outside_recommended")), (9, .reject("sensitivity_outside_absolute")),
            (399, .accept), (400, .approval("sensitivity_outside_recommended")),
            (500, .approval("sensitivity_outside_recommended")), (501, .reject("sensitivity_outside_absolute")),
        ] as [(Int64, Outcome)]
    )
    func sensitivity(value: Int64, expected: Outcome) {
        #expect(
            evaluate(.setSensitivities(DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: value)))) == expected
        )
    }

    @Test(
        "carb ratio 2–150 absolute, 4–28 recommended",
        arguments: [
            (4, Outcome.accept), (3, .approval("carb_ratio_outside_recommended")),
            (2, .approval("carb_ratio_outside_recommended")), (1, .reject("carb_ratio_outside_absolute")),
            (28, .accept), (29, .approval("carb_ratio_outside_recommended")),
            (150, .approval("carb_ratio_outside_recommended")), (151, .reject("carb_ratio_outside_absolute")),
        ] as [(Int64, Outcome)]
    )
    func carbRatio(value: Int64, expected: Outcome) {
        // Max basal 0.45 U/h stays under 70 / 150 g/U = 0.466 U/h, so only the carb-ratio bound decides.
        let settings = F.settings(basal: [(0, 300)], maxBasal: 450)
        #expect(
            evaluate(.setCarbRatios(DailySchedule(constant: CarbRatio(gramsPerUnit: value))), settings: settings)
                == expected
        )
    }

    @Test(
        "scheduled basal 0–30 U/h",
        arguments: [
            (30_000, Outcome.accept), (29_950, .accept), (30_050, .reject("basal_rate_outside_absolute")), (0, .accept),
        ] as [(Int64, Outcome)]
    )
    func scheduledBasal(rate: Int64, expected: Outcome) {
        let settings = F.settings(basal: [(0, 30_000)], maxBasal: 40_000)
        let change = SettingChange.setBasalSchedule(F.basalSchedule([(0, rate)]))
        #expect(evaluate(change, settings: settings, by: .patient) == expected)
    }

    @Test(
        "maximum bolus up to 30 U, recommended below 20 U (0.05 U steps)",
        arguments: [
            (19_950, Outcome.accept), (20_000, .approval("max_bolus_outside_recommended")),
            (30_000, .approval("max_bolus_outside_recommended")), (30_050, .reject("max_bolus_outside_absolute")),
            (100, .accept), (50, .approval("max_bolus_outside_recommended")),
            (0, .reject("amount_not_positive", "max_bolus_outside_absolute")),
            (
                Int64.max,
                .reject(
                    "pump_increment_mismatch",
                    "pump_bolus_maximum_exceeded",
                    "max_bolus_outside_absolute",
                    "prescription_max_bolus_exceeded"
                )
            ),
        ] as [(Int64, Outcome)]
    )
    func maximumBolus(amount: Int64, expected: Outcome) {
        #expect(evaluate(.setMaxBolus(Milliunits(amount))) == expected)
    }

    @Test(
        "maximum basal up to 70 / lowest carb ratio (10 g/U: 7 U/h), recommended 2.1–6.4 × highest basal (1 U/h)",
        arguments: [
            (6_400, Outcome.accept), (6_450, .approval("max_basal_outside_recommended")),
            (7_000, .approval("max_basal_outside_recommended")), (7_050, .reject("max_basal_outside_absolute")),
            (2_100, .accept), (2_050, .approval("max_basal_outside_recommended")),
            (1_000, .approval("max_basal_outside_recommended")), (950, .reject("max_basal_below_scheduled_basal")),
        ] as [(Int64, Outcome)]
    )
    func maximumBasal(rate: Int64, expected: Outcome) {
        #expect(evaluate(.setMaxBasal(MilliunitsPerHour(rate))) == expected)
    }

    @Test(
        "a single bolus is never above 30 U",
        arguments: [(30_000, Outcome.accept), (30_050, .reject("bolus_outside_absolute"))] as [(Int64, Outcome)]
    )
    func bolusAbsolute(amount: Int64, expected: Outcome) {
        let settings = F.settings(maxBolus: 40_000)
        #expect(evaluate(.bolus(Milliunits(amount)), settings: settings, by: .patient) == expected)
    }

    @Test func messagesNameValueAndLimit() {
        let decision = TherapyPolicy.evaluate(
            .setSensitivities(DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: 501))),
            by: F.actor(.clinician),
            context: F.context(prescription: F.wide)
        )
        let message = decision.reasons.first?.message ?? ""
        #expect(message.contains("501 mg/dL/U"))
        #expect(message.contains("10 mg/dL/U to 500 mg/dL/U"))
    }
}

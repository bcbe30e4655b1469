import TherapyModel

/// Checks for stored settings: schedules, maxima, targets.
extension TherapyPolicy {
    static func checkBasalSchedule(
        _ schedule: DailySchedule<MilliunitsPerHour>,
        context: PolicyContext,
        findings: inout PolicyFindings
    ) {
        let prescribed = context.prescription.maxBasalRate
        for (index, entry) in schedule.entries.enumerated() {
            let label = "basal schedule entry \(index) (minute \(entry.startMinute)) rate"
            findings.check(
                entry.value,
                against: Guardrails.scheduledBasalRate,
                label: label,
                absoluteCode: .basalRateOutsideAbsolute,
                recommendedCode: .basalRateOutsideAbsolute
            )
            if entry.value > prescribed {
                findings.reject(
                    .prescriptionMaxBasalExceeded,
                    "\(label) \(entry.value) is above the prescribed maximum basal rate \(prescribed); give at most "
                        + "\(prescribed)"
                )
            }
        }
        for excess in BasalScheduleRaise.excesses(from: context.settings.basalSchedule, to: schedule) {
            findings.needApproval(
                .basalScheduleRaise,
                "basal rate from minute \(excess.startMinute) rises from \(excess.current) to \(excess.proposed), "
                    + "more than the \(excess.allowedRaise) allowed without approval (20 % or 0.1 U/h); a second "
                    + "clinician must approve it"
            )
        }
    }

    static func checkMaxBasal(_ rate: MilliunitsPerHour, context: PolicyContext, findings: inout PolicyFindings) {
        let guardrail = Guardrails.maximumBasalRate(
            lowestCarbRatio: context.settings.carbRatioSchedule.values.min() ?? CarbRatio(gramsPerUnit: 0),
            highestScheduledBasal: context.settings.highestScheduledBasalRate,
            basalRateStep: context.model.basalRateStep
        )
        findings.check(
            rate,
            against: guardrail,
            label: "maximum basal rate",
            absoluteCode: .maxBasalOutsideAbsolute,
            recommendedCode: .maxBasalOutsideRecommended
        )
        let prescribed = context.prescription.maxBasalRate
        if rate > prescribed {
            findings.reject(
                .prescriptionMaxBasalExceeded,
                "maximum basal rate \(rate) is above the prescribed maximum basal rate \(prescribed); give at most "
                    + "\(prescribed)"
            )
        }
    }

    static func checkMaxBolus(_ amount: Milliunits, context: PolicyContext, findings: inout PolicyFindings) {
        findings.check(
            amount,
            against: Guardrails.maximumBolus(bolusStep: context.model.bolusStep),
            label: "maximum bolus",
            absoluteCode: .maxBolusOutsideAbsolute,
            recommendedCode: .maxBolusOutsideRecommended
        )
        let prescribed = context.prescription.maxBolus
        if amount > prescribed {
            findings.reject(
                .prescriptionMaxBolusExceeded,
                "maximum bolus \(amount) is above the prescribed maximum bolus \(prescribed); give at most "
                    + "\(prescribed)"
            )
        }
    }

    static func checkCarbRatios(
        _ schedule: DailySchedule<CarbRatio>,
        context: PolicyContext,
        findings: inout PolicyFindings
    ) {
        for (index, entry) in schedule.entries.enumerated() {
            let label = "carb ratio entry \(index) (minute \(entry.startMinute))"
            findings.check(
                entry.value,
                against: Guardrails.carbRatio,
                label: label,
                absoluteCode: .carbRatioOutsideAbsolute,
                recommendedCode: .carbRatioOutsideRecommended
            )
            findings.check(
                entry.value,
                within: context.prescription.carbRatioRange,
                label: label,
                code: .prescriptionCarbRatioRange
            )
        }
        // A lower carb ratio lowers the max-basal bound (70 / lowest carb ratio): the
        // current maximum basal rate must still fit under it.
        let lowest = schedule.values.min() ?? CarbRatio(gramsPerUnit: 0)
        let bound = Guardrails.maximumBasalRate(
            lowestCarbRatio: lowest,
            highestScheduledBasal: context.settings.highestScheduledBasalRate,
            basalRateStep: context.model.basalRateStep
        ).absolute.upperBound
        if context.settings.maxBasalRate > bound {
            findings.reject(
                .maxBasalOutsideAbsolute,
                "with lowest carb ratio \(lowest) the maximum basal rate may be at most \(bound) (70 / carb ratio), "
                    + "but it is \(context.settings.maxBasalRate); lower the maximum basal rate first"
            )
        }
    }

    static func checkSensitivities(
        _ schedule: DailySchedule<InsulinSensitivity>,
        context: PolicyContext,
        findings: inout PolicyFindings
    ) {
        for (index, entry) in schedule.entries.enumerated() {
            let label = "sensitivity entry \(index) (minute \(entry.startMinute))"
            findings.check(
                entry.value,
                against: Guardrails.insulinSensitivity,
                label: label,
                absoluteCode: .sensitivityOutsideAbsolute,
                recommendedCode: .sensitivityOutsideRecommended
            )
            findings.check(
                entry.value,
                within: context.prescription.sensitivityRange,
                label: label,
                code: .prescriptionSensitivityRange
            )
        }
    }

    static func checkCorrectionRange(
        _ schedule: DailySchedule<CorrectionRange>,
        context: PolicyContext,
        findings: inout PolicyFindings
    ) {
        let threshold = context.settings.suspendThreshold
        for (index, entry) in schedule.entries.enumerated() {
            for (bound, value) in [("lower", entry.value.lower), ("upper", entry.value.upper)] {
                let label = "correction range entry \(index) (minute \(entry.startMinute)) \(bound) bound"
                findings.check(
                    value,
                    against: Guardrails.correctionRange,
                    label: label,
                    absoluteCode: .correctionRangeOutsideAbsolute,
                    recommendedCode: .correctionRangeOutsideRecommended
                )
                findings.check(
                    value,
                    within: context.prescription.correctionRange,
                    label: label,
                    code: .prescriptionCorrectionRange
                )
            }
            if entry.value.lower < threshold {
                findings.reject(
                    .correctionRangeBelowSuspendThreshold,
                    "correction range entry \(index) lower bound \(entry.value.lower) is below the suspend "
                        + "threshold \(threshold); raise the range or lower the threshold first"
                )
            }
        }
    }

    static func checkSuspendThreshold(
        _ threshold: GlucoseMgdL,
        context: PolicyContext,
        findings: inout PolicyFindings
    ) {
        findings.check(
            threshold,
            against: Guardrails.suspendThreshold,
            label: "suspend threshold",
            absoluteCode: .suspendThresholdOutsideAbsolute,
            recommendedCode: .suspendThresholdOutsideRecommended
        )
        findings.check(
            threshold,
            within: context.prescription.suspendThresholdRange,
            label: "suspend threshold",
            code: .prescriptionSuspendThresholdRange
        )
        if let lowest = context.settings.correctionRangeSchedule.values.map(\.lower).min(), threshold > lowest {
            findings.reject(
                .correctionRangeBelowSuspendThreshold,
                "suspend threshold \(threshold) is above the lowest correction range lower bound \(lowest); "
                    + "lower the threshold or raise the correction range first"
            )
        }
    }
}

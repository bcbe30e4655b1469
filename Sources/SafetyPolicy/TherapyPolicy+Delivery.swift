public import TherapyModel

/// Checks for deliveries: bolus and temporary basal.
extension TherapyPolicy {
    static func checkBolus(_ amount: Milliunits, context: PolicyContext, findings: inout PolicyFindings) {
        let absolute = Guardrails.maximumBolus(bolusStep: context.model.bolusStep).absolute
        if amount > absolute.upperBound {
            findings.reject(
                .bolusOutsideAbsolute,
                "bolus \(amount) is above the absolute maximum bolus \(absolute.upperBound); give at most "
                    + "\(absolute.upperBound)"
            )
        }
        let prescription = context.prescription
        if amount > prescription.maxBolus {
            findings.reject(
                .prescriptionMaxBolusExceeded,
                "bolus \(amount) is above the prescribed maximum bolus \(prescription.maxBolus); give at most "
                    + "\(prescription.maxBolus)"
            )
        }
        let requested = max(amount, .zero)
        let maxBolus = min(context.settings.maxBolus, prescription.maxBolus)
        let hourlyLimit =
            maxBolus.scaled(by: bolusWindowNumerator, dividedBy: bolusWindowDenominator) ?? maxBolus
        let recent = context.history.total(of: [.bolus], inLastMinutes: bolusWindowMinutes, now: context.now)
        let hourlyTotal = recent.addingSaturating(requested)
        if hourlyTotal > hourlyLimit {
            findings.reject(
                .bolusHourlyTotalExceeded,
                "bolus \(amount) after \(recent) of boluses in the last 60 minutes makes \(hourlyTotal), above "
                    + "1.5 × the maximum bolus \(maxBolus) = \(hourlyLimit); wait or give a smaller bolus"
            )
        }
        checkDailyTotal(adding: requested, label: "bolus \(amount)", context: context, findings: &findings)
        if let limit = prescription.maxInsulinOnBoard {
            let onBoard = insulinOnBoard(context)
            let after = onBoard.addingSaturating(requested)
            if after > limit {
                let room = Milliunits(max(0, limit.rawValue - onBoard.rawValue))
                findings.reject(
                    .maxIOBExceeded,
                    "insulin on board is \(onBoard); bolus \(amount) would make \(after), above the prescribed maximum "
                        + "\(limit); at most \(room) may be given now"
                )
            }
        }
    }

    /// Insulin on board now, by the prescription's insulin model, from the delivery history. A
    /// temporary basal counts as its whole dose given at its start, not net of the scheduled
    /// basal it replaces: more insulin on board than the truth, the safe side for a bolus limit.
    public static func insulinOnBoard(_ context: PolicyContext) -> Milliunits {
        let deliveries = context.history.records.map { InsulinDelivery.bolus($0.amount, at: $0.time) }
        return context.prescription.insulinModel.insulinOnBoard(deliveries, at: context.now)
    }

    static func checkTempBasal(
        rate: MilliunitsPerHour,
        durationMinutes: Int64,
        context: PolicyContext,
        findings: inout PolicyFindings
    ) {
        let prescription = context.prescription
        if rate > prescription.maxBasalRate {
            findings.reject(
                .prescriptionMaxBasalExceeded,
                "temporary basal rate \(rate) is above the prescribed maximum basal rate "
                    + "\(prescription.maxBasalRate); give at most \(prescription.maxBasalRate)"
            )
        }
        guard rate >= .zero, durationMinutes > 0 else {
            return  // Already refused by the pump hard limits; nothing will be delivered.
        }
        // An uncomputable (overflowing) dose is larger than any daily limit.
        let dose = rate.insulin(overMinutes: durationMinutes) ?? Milliunits(Int64.max)
        checkDailyTotal(
            adding: dose,
            label: "temporary basal \(rate) for \(durationMinutes) min (\(dose))",
            context: context,
            findings: &findings
        )
    }

    /// Insulin in the last 24 hours plus `dose` must stay within the prescription.
    static func checkDailyTotal(
        adding dose: Milliunits,
        label: String,
        context: PolicyContext,
        findings: inout PolicyFindings
    ) {
        let delivered = context.history.total(
            of: DeliveryHistory.Kind.allCases,
            inLastMinutes: dailyWindowMinutes,
            now: context.now
        )
        let total = delivered.addingSaturating(dose)
        let limit = context.prescription.maxDailyTotal
        if total > limit {
            findings.reject(
                .prescriptionDailyTotalExceeded,
                "\(label) after \(delivered) delivered in the last 24 hours makes \(total), above the prescribed "
                    + "daily maximum \(limit); ask the clinician or wait"
            )
        }
    }
}

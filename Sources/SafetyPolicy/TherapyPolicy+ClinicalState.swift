public import TherapyModel

/// Checks on what the pump reports about itself, for deliveries (bolus, temporary basal).
///
/// - **Suspended**: a pump whose delivery is suspended gets no bolus or temporary basal
///   (`pump_suspended`, "resume insulin delivery first"), as Omnipod and Tandem pumps refuse
///   them; the pump itself refuses them too (`suspended`). Unknown (no fresh report): the
///   delivery needs a second person (`pump_state_unknown`). A resume while not suspended is
///   accepted: resuming is idempotent on the pump, and a patient unsure of the state must be
///   able to press it.
/// - **Reservoir**: a bolus larger than the reservoir reports is rejected
///   (`reservoir_insufficient`).
/// - **Glucose** (boluses): below the suspend threshold on a fresh reading, rejected
///   (`glucose_below_suspend_threshold`), following Loop, which gives no insulin while glucose
///   is below the suspend threshold (LoopKit `DoseMath`: "suspend threshold" guard); with no
///   fresh reading, a bolus above ``unknownGlucoseBolusLimit`` needs a second person
///   (`glucose_unknown`).
extension TherapyPolicy {
    /// The largest bolus given without a fresh glucose reading and without a second person: 1 U.
    public static let unknownGlucoseBolusLimit = Milliunits(1_000)

    static func checkClinicalState(_ change: SettingChange, context: PolicyContext, findings: inout PolicyFindings) {
        guard let pump = context.pump, PumpHardLimits.refusedWhileSuspended(change) else { return }
        let now = context.now
        switch pump.freshSuspended(now: now) {
        case true?:
            findings.reject(
                .pumpSuspended,
                "insulin delivery on the pump is suspended; resume insulin delivery first, then ask for the \(change.kind)"
            )
        case nil:
            findings.needApproval(
                .pumpStateUnknown,
                "the pump has not reported whether insulin delivery is suspended in the last "
                    + "\(ReportedPumpState.pumpStateFreshMinutes) minutes; a second person must approve the \(change.kind)"
            )
        case false?:
            break
        }
        guard case .bolus(let amount) = change else { return }
        if let reservoir = pump.freshReservoir(now: now), amount > reservoir {
            findings.reject(
                .reservoirInsufficient,
                "bolus \(amount) is more than the \(reservoir) the reservoir reports; give at most \(reservoir) or "
                    + "refill the reservoir"
            )
        }
        let threshold = context.settings.suspendThreshold
        if let glucose = pump.freshGlucose(now: now) {
            if glucose < threshold {
                findings.reject(
                    .glucoseBelowSuspendThreshold,
                    "glucose \(glucose) is below the suspend threshold \(threshold); no bolus is given until glucose "
                        + "is above it"
                )
            }
        } else if amount > unknownGlucoseBolusLimit {
            findings.needApproval(
                .glucoseUnknown,
                "no glucose reading in the last \(ReportedPumpState.glucoseFreshMinutes) minutes; a bolus above "
                    + "\(unknownGlucoseBolusLimit) needs a second person's approval"
            )
        }
    }
}

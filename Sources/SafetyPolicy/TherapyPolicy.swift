public import TherapyModel

/// The gateway's safety policy: a pure function deciding whether one therapy change
/// may go to a pump.
///
/// Order of evaluation:
/// 1. authentication and authorization (`Authorization`) — refused alone, so an
///    unauthorized actor learns nothing about the pump's state or limits;
/// 2. lockout — every remote change is refused while the pump is locked out;
/// 3. every remaining check, all reported together:
///    - the pump's own hard limits (`PumpHardLimits`, the same code the pump runs);
///    - the LoopKit two-tier guardrails (`Guardrails`);
///    - the clinician's prescription;
///    - rate and totals: boluses in the last 60 minutes at most 1.5 × the maximum bolus,
///      insulin in 24 hours within the prescription, basal schedule raises
///      (`BasalScheduleRaise`).
///
/// Any absolute violation rejects; otherwise any recommended-tier finding needs approval.
public enum TherapyPolicy {
    /// Minutes in the bolus rate-of-change window.
    public static let bolusWindowMinutes: Int64 = 60
    /// Boluses in the window may add up to `bolusWindowNumerator / bolusWindowDenominator`
    /// (1.5) times the maximum bolus, as Tandem pumps do.
    public static let bolusWindowNumerator: Int64 = 3
    public static let bolusWindowDenominator: Int64 = 2
    /// Minutes in the daily-total window.
    public static let dailyWindowMinutes: Int64 = 24 * 60

    public static func evaluate(
        _ change: SettingChange,
        by actor: PolicyActor,
        context: PolicyContext
    ) -> PolicyDecision {
        if let refusal = Authorization.refusal(
            of: change,
            by: actor,
            model: context.model,
            prescription: context.prescription
        ) {
            return .reject([refusal])
        }
        if case .lockedOut(let reason) = context.lockout {
            return .reject([
                PolicyReason(
                    code: .pumpLockedOut,
                    message: "the pump is locked out (\(reason)); no remote \(change.kind) is accepted until two "
                        + "incident staff lift the lockout"
                )
            ])
        }
        var findings = PolicyFindings()
        for violation in PumpHardLimits.check(change, settings: context.settings, model: context.model).violations {
            findings.reject(violation)
        }
        checkClinicalState(change, context: context, findings: &findings)
        switch change {
        case .bolus(let amount):
            checkBolus(amount, context: context, findings: &findings)
        case .tempBasal(let rate, let durationMinutes):
            checkTempBasal(rate: rate, durationMinutes: durationMinutes, context: context, findings: &findings)
        case .setBasalSchedule(let schedule):
            checkBasalSchedule(schedule, context: context, findings: &findings)
        case .setMaxBasal(let rate):
            checkMaxBasal(rate, context: context, findings: &findings)
        case .setMaxBolus(let amount):
            checkMaxBolus(amount, context: context, findings: &findings)
        case .setCarbRatios(let schedule):
            checkCarbRatios(schedule, context: context, findings: &findings)
        case .setSensitivities(let schedule):
            checkSensitivities(schedule, context: context, findings: &findings)
        case .setCorrectionRange(let schedule):
            checkCorrectionRange(schedule, context: context, findings: &findings)
        case .setSuspendThreshold(let threshold):
            checkSuspendThreshold(threshold, context: context, findings: &findings)
        case .suspend, .resume:
            break
        }
        return findings.decision
    }
}

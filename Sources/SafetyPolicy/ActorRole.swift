public import TherapyModel

/// Who someone is to the system. A role bounds the controls its holders may ever use;
/// the actor's own attributes and the pump's narrow that further (`Authorization`).
public enum ActorRole: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case patient
    case caregiver
    case clinician
    case `operator`
    case incident
    case admin

    /// The therapy controls this role may use at most.
    ///
    /// | role      | controls                                                            |
    /// |-----------|---------------------------------------------------------------------|
    /// | patient   | deliveries, suspend/resume, and the schedules and targets — not the |
    /// |           | two safety maxima (max basal, max bolus), which are the clinician's |
    /// | caregiver | deliveries and suspend/resume only                                  |
    /// | clinician | all settings and suspend/resume; no deliveries (bolus, temp basal), |
    /// |           | which need someone with the patient                                 |
    /// | operator, incident, admin | none, ever: they run the service, respond   |
    /// |           | to incidents (lockout is not a therapy change) or manage accounts   |
    public var therapyControls: ControlSet {
        switch self {
        case .patient:
            ControlSet([
                .bolus, .tempBasal, .suspend, .resume, .setBasalSchedule, .setCarbRatios, .setSensitivities,
                .setCorrectionRange, .setSuspendThreshold,
            ])
        case .caregiver:
            ControlSet([.bolus, .tempBasal, .suspend, .resume])
        case .clinician:
            ControlSet([
                .setBasalSchedule, .setMaxBasal, .setMaxBolus, .setCarbRatios, .setSensitivities,
                .setCorrectionRange, .setSuspendThreshold, .suspend, .resume,
            ])
        case .operator, .incident, .admin:
            .empty
        }
    }

    public var description: String { rawValue }
}

public import TherapyModel

/// Whether incident staff have locked the pump out of remote changes.
public enum LockoutState: Sendable, Hashable {
    case unlocked
    case lockedOut(reason: String)
}

/// Everything the policy looks at besides the change and the actor.
public struct PolicyContext: Sendable, Hashable {
    public let settings: TherapySettings
    public let model: PumpModel
    public let prescription: Prescription
    public let history: DeliveryHistory
    public let lockout: LockoutState
    public let now: Timestamp
    /// What the pump last reported about itself; nil when the caller does not track it (then the
    /// clinical-state rules are not run: `medtunnel policy evaluate` without `--pump-state`).
    /// The gateway always gives it, and there a missing or stale reading counts as unknown.
    public let pump: ReportedPumpState?

    public init(
        settings: TherapySettings,
        model: PumpModel,
        prescription: Prescription,
        history: DeliveryHistory,
        lockout: LockoutState,
        now: Timestamp,
        pump: ReportedPumpState? = nil
    ) {
        self.pump = pump
        self.settings = settings
        self.model = model
        self.prescription = prescription
        self.history = history
        self.lockout = lockout
        self.now = now
    }
}

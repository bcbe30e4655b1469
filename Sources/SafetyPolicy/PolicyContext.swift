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

    public init(
        settings: TherapySettings,
        model: PumpModel,
        prescription: Prescription,
        history: DeliveryHistory,
        lockout: LockoutState,
        now: Timestamp
    ) {
        self.settings = settings
        self.model = model
        self.prescription = prescription
        self.history = history
        self.lockout = lockout
        self.now = now
    }
}

public import TherapyModel

/// The person (or service) asking for a change, as the API authenticated them.
public struct PolicyActor: Sendable, Hashable {
    /// Stable account id; an empty id is treated as not authenticated.
    public let id: String
    public let role: ActorRole
    /// Whether the API verified this actor's credentials.
    public let isAuthenticated: Bool
    /// Patients this actor acts for: the patient themself, a caregiver's dependants,
    /// a clinician's patients.
    public let patientIDs: Set<String>
    /// Optional narrowing of the role's controls for this actor (e.g. a caregiver
    /// allowed only to suspend). `nil`: the role's controls.
    public let controlRestriction: ControlSet?

    public init(
        id: String,
        role: ActorRole,
        isAuthenticated: Bool,
        patientIDs: Set<String>,
        controlRestriction: ControlSet? = nil
    ) {
        self.id = id
        self.role = role
        self.isAuthenticated = isAuthenticated
        self.patientIDs = patientIDs
        self.controlRestriction = controlRestriction
    }
}

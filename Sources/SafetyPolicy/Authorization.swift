public import TherapyModel

/// The controls an actor may use on one pump.
public enum AuthorizationOutcome: Sendable, Hashable {
    /// No verified identity: the request is refused before anything else is looked at.
    case notAuthenticated
    /// Authenticated, but the intersection below is empty: no control at all on this pump.
    case notAuthorized
    /// The non-empty set of controls this actor may use on this pump.
    case authorized(ControlSet)
}

/// Attribute-based authorization for therapy changes.
///
/// controls = role's controls ∩ actor's own restriction ∩ pump model's supported controls
///            ∩ prescription's enabled controls, if the actor is linked to the
///            prescription's patient; otherwise empty.
///
/// Operators, incident staff and admins have no therapy controls, so for them the
/// intersection is always empty.
public enum Authorization {
    public static func controls(
        for actor: PolicyActor,
        model: PumpModel,
        prescription: Prescription
    ) -> AuthorizationOutcome {
        guard actor.isAuthenticated, !actor.id.isEmpty else {
            return .notAuthenticated
        }
        guard actor.patientIDs.contains(prescription.patientID) else {
            return .notAuthorized
        }
        var controls = actor.role.therapyControls
            .intersection(model.supportedControls)
            .intersection(prescription.enabledControls)
        if let restriction = actor.controlRestriction {
            controls = controls.intersection(restriction)
        }
        return controls.isEmpty ? .notAuthorized : .authorized(controls)
    }

    /// The authorization step of the policy: `nil` when `actor` may make `change`,
    /// otherwise the one reason it may not.
    static func refusal(
        of change: SettingChange,
        by actor: PolicyActor,
        model: PumpModel,
        prescription: Prescription
    ) -> PolicyReason? {
        switch controls(for: actor, model: model, prescription: prescription) {
        case .notAuthenticated:
            return PolicyReason(
                code: .notAuthenticated,
                message: "the actor is not authenticated; sign in before requesting \(change.kind)"
            )
        case .notAuthorized:
            return PolicyReason(
                code: .notAuthorized,
                // Never names the pump's patient: the actor is not one of theirs and must not learn who it is.
                message: "actor \(actor.id) (\(actor.role)) is authenticated but may use no control on this pump; "
                    + "ask the clinician of the pump's patient for access"
            )
        case .authorized(let controls) where !controls.contains(change.kind):
            return PolicyReason(
                code: .controlNotPermitted,
                message: "actor \(actor.id) (\(actor.role)) may use \(controls) on this pump, not \(change.kind); "
                    + "ask someone allowed to make this change"
            )
        case .authorized:
            return nil
        }
    }
}

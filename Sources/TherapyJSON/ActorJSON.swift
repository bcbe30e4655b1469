import SafetyPolicy
import TherapyModel

/// The requesting actor, as the API authenticated them:
/// `{"id": "u-17", "role": "patient", "authenticated": true, "patientIds": ["patient-001"]}`
/// with an optional `"controls": [...]` narrowing the role's controls.
struct ActorJSON: Decodable {
    let value: PolicyActor

    init(from decoder: any Decoder) throws {
        let reader = try FieldReader(decoder, fields: ["id", "role", "authenticated", "patientIds", "controls"])
        value = PolicyActor(
            id: try reader.string("id"),
            role: try reader.oneOf(ActorRole.self, "role"),
            isAuthenticated: try reader.decode(Bool.self, "authenticated"),
            patientIDs: Set(try reader.decode([String].self, "patientIds")),
            controlRestriction: try reader.controls("controls")
        )
    }
}

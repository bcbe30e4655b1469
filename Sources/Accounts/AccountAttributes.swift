public import SafetyPolicy
public import TherapyModel

/// An account's attributes, checked against its role (see `AccountAttribute` for the table).
/// Sorted and without duplicates, so equal sets compare and store equal.
public struct AccountAttributes: Sendable, Hashable, CustomStringConvertible {
    public let all: [AccountAttribute]

    public init(_ attributes: [AccountAttribute], for role: ActorRole) throws(AccountError) {
        let sorted = Array(Set(attributes)).sorted()
        for attribute in sorted where !Self.allowed(attribute.key, for: role) {
            throw AccountError(
                .attributeNotAllowed,
                "attribute '\(attribute)': a \(role) account cannot carry '\(attribute.key.rawValue)'"
                    + Self.hint(for: role)
            )
        }
        for attribute in sorted where attribute.key == .control {
            guard let kind = ControlKind(rawValue: attribute.value), role.therapyControls.contains(kind) else {
                throw AccountError(
                    .attributeNotAllowed,
                    "attribute '\(attribute)': a \(role) may never use \(attribute.value) "
                        + "(the role allows \(role.therapyControls))"
                )
            }
        }
        let patients = sorted.filter { $0.key == .patient }.count
        switch role {
        case .patient where patients != 1:
            throw AccountError(
                patients == 0 ? .missingAttribute : .attributeNotAllowed,
                "a patient account needs exactly one patient=ID attribute (the patient id in the prescription); "
                    + "got \(patients)"
            )
        case .caregiver where patients == 0, .clinician where patients == 0:
            throw AccountError(
                .missingAttribute,
                "a \(role) account needs at least one patient=ID attribute naming a patient they act for"
            )
        default:
            break
        }
        self.all = sorted
    }

    /// Patient ids this account acts for.
    public var patientIDs: Set<String> { self.values(.patient) }
    /// Phones bound to a patient account.
    public var phoneIDs: Set<String> { self.values(.phone) }

    /// The `control=` attributes as a set; `nil` when there are none (the role's controls apply).
    public var controlRestriction: ControlSet? {
        let kinds = self.all.filter { $0.key == .control }.compactMap { ControlKind(rawValue: $0.value) }
        return kinds.isEmpty ? nil : ControlSet(kinds)
    }

    public var description: String { self.all.map(\.description).joined(separator: " ") }

    private func values(_ key: AccountAttribute.Key) -> Set<String> {
        Set(self.all.filter { $0.key == key }.map(\.value))
    }

    private static func allowed(_ key: AccountAttribute.Key, for role: ActorRole) -> Bool {
        switch (role, key) {
        case (.patient, _): true
        case (.caregiver, .patient), (.caregiver, .control), (.clinician, .patient), (.clinician, .control): true
        default: false
        }
    }

    private static func hint(for role: ActorRole) -> String {
        switch role {
        case .operator, .incident, .admin: "; \(role) accounts take no attributes"
        case .caregiver, .clinician: "; only patient= and control= apply"
        case .patient: ""
        }
    }
}

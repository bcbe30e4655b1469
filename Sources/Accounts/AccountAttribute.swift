import SafetyPolicy
import TherapyModel

/// One `KEY=VALUE` fact about an account, as `medtunnel user add --attr` takes it.
///
/// | key       | meaning                                             | roles                          |
/// |-----------|-----------------------------------------------------|--------------------------------|
/// | `patient` | a patient id: the patient themself (exactly one),   | patient (1), caregiver and     |
/// |           | a caregiver's dependant, a clinician's patient      | clinician (1 or more)          |
/// | `phone`   | the id of a phone that relays for the patient       | patient                        |
/// | `control` | narrows the role's controls to those listed         | patient, caregiver, clinician  |
///
/// `pump=` is retired: a pump is bound to its patient by pairing (the patient scans the code the
/// pump shows; docs/pairing.md), never by an account attribute. Accounts stored with it still
/// load (the attribute is dropped); adding it is refused with a pointer to pairing.
///
/// Operators, incident staff and admins carry no attribute: they never change therapy.
/// Values are 1...128 characters from `A-Z a-z 0-9 . _ : @ -`; a `control` value is a control
/// name (`bolus`, `suspend`, …) that the role may use at all.
public struct AccountAttribute: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Key: String, Sendable, Hashable, CaseIterable, Comparable {
        case patient
        case phone
        case control

        public static func < (lhs: Key, rhs: Key) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    public static let maximumValueLength = 128

    public let key: Key
    public let value: String

    public init(key: Key, value: String) throws(AccountError) {
        let shown = "\(key.rawValue)=\(value)"
        guard (1...Self.maximumValueLength).contains(value.utf8.count) else {
            throw AccountError(
                .malformedAttribute,
                "attribute '\(shown)': the value must be 1 to \(Self.maximumValueLength) characters"
            )
        }
        guard NameCharacters.only(value, lettersDigitsAnd: "._:@-") else {
            throw AccountError(
                .malformedAttribute,
                "attribute '\(shown)': the value may use only A-Z a-z 0-9 . _ : @ -"
            )
        }
        if key == .control, ControlKind(rawValue: value) == nil {
            let names = ControlKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw AccountError(.malformedAttribute, "attribute '\(shown)': not a control; use one of \(names)")
        }
        self.key = key
        self.value = value
    }

    /// Parses `KEY=VALUE`.
    public init(parsing text: String) throws(AccountError) {
        guard let equals = text.firstIndex(of: "=") else {
            throw AccountError(
                .malformedAttribute,
                "attribute '\(text)': expected KEY=VALUE, e.g. patient=patient-001"
            )
        }
        let name = String(text[..<equals])
        guard name != Self.retiredPumpKey else {
            throw AccountError(
                .retiredAttribute,
                "attribute '\(text)': pump= is retired; a pump is bound to its patient by pairing: the patient "
                    + "scans the code the pump shows and posts it (POST /v1/pairings; see docs/pairing.md)"
            )
        }
        guard let key = Key(rawValue: name) else {
            let keys = Key.allCases.map(\.rawValue).joined(separator: ", ")
            throw AccountError(.unknownAttribute, "attribute '\(text)': unknown key '\(name)'; use one of \(keys)")
        }
        try self.init(key: key, value: String(text[text.index(after: equals)...]))
    }

    public var description: String { "\(key.rawValue)=\(value)" }

    /// The key of the retired `pump=` attribute (stored accounts may still carry it).
    public static let retiredPumpKey = "pump"

    public static func < (lhs: AccountAttribute, rhs: AccountAttribute) -> Bool {
        (lhs.key, lhs.value) < (rhs.key, rhs.value)
    }

}

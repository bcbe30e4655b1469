public import SafetyPolicy
public import TherapyModel

/// A user of the operator API: a role, attributes, and whether it may still sign in.
public struct Account: Sendable, Hashable {
    public let id: String
    public let role: ActorRole
    public let attributes: AccountAttributes
    public let createdAt: Timestamp
    /// The audit entry that recorded the creation.
    public let createdAuditIndex: UInt64?
    /// Set once the account is disabled; a disabled account never authenticates again.
    public let disabledAt: Timestamp?
    /// The actor the safety policy sees for a request this account authenticated (made once:
    /// an account may hold many attributes, and every request asks).
    public let policyActor: PolicyActor

    public init(
        id: String,
        role: ActorRole,
        attributes: AccountAttributes,
        createdAt: Timestamp,
        createdAuditIndex: UInt64?,
        disabledAt: Timestamp?
    ) {
        self.id = id
        self.role = role
        self.attributes = attributes
        self.createdAt = createdAt
        self.createdAuditIndex = createdAuditIndex
        self.disabledAt = disabledAt
        self.policyActor = PolicyActor(
            id: id,
            role: role,
            isAuthenticated: true,
            patientIDs: attributes.patientIDs,
            controlRestriction: attributes.controlRestriction
        )
    }

    public var isDisabled: Bool { disabledAt != nil }

    public static let maximumIDLength = 64

    /// Checks a user id: 1...64 characters from `A-Z a-z 0-9 . _ @ -`, so it is safe as a token
    /// subject, an audit actor and a path segment.
    public static func validateID(_ id: String) throws(AccountError) {
        guard (1...maximumIDLength).contains(id.utf8.count) else {
            throw AccountError(.invalidUserID, "user id '\(id)': must be 1 to \(maximumIDLength) characters")
        }
        let valid = NameCharacters.only(id, lettersDigitsAnd: "._@-")
        guard valid else {
            throw AccountError(.invalidUserID, "user id '\(id)': may use only A-Z a-z 0-9 . _ @ -")
        }
    }

    /// Parses a role name, naming the allowed ones when it is not one.
    public static func role(named name: String) throws(AccountError) -> ActorRole {
        guard let role = ActorRole(rawValue: name) else {
            let names = ActorRole.allCases.map(\.rawValue).joined(separator: ", ")
            throw AccountError(.unknownRole, "role '\(name)': unknown; use one of \(names)")
        }
        return role
    }
}

/// Why an account could not be created, found, changed or used. `reason` names the input, what
/// was wrong with it and what to do; equality is on `code`.
public struct AccountError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidUserID = "invalid_user_id"
            case unknownRole = "unknown_role"
            case malformedAttribute = "malformed_attribute"
            case unknownAttribute = "unknown_attribute"
            case retiredAttribute = "retired_attribute"
            case attributeNotAllowed = "attribute_not_allowed"
            case missingAttribute = "missing_attribute"
            case duplicateUser = "duplicate_user"
            case unknownUser = "unknown_user"
            case alreadyDisabled = "already_disabled"
            case notDisabled = "not_disabled"
            case auditFailed = "audit_failed"
            case storageFailure = "storage_failure"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A user id that is empty, too long or has characters outside `A-Z a-z 0-9 . _ @ -`.
        public static let invalidUserID = Code(.invalidUserID)
        /// A role name that is not one of `ActorRole`'s.
        public static let unknownRole = Code(.unknownRole)
        /// An attribute that is not `KEY=VALUE` with a well-formed value.
        public static let malformedAttribute = Code(.malformedAttribute)
        /// An attribute key other than `patient`, `phone`, `control`.
        public static let unknownAttribute = Code(.unknownAttribute)
        /// `pump=`: pumps are bound to patients by pairing now.
        public static let retiredAttribute = Code(.retiredAttribute)
        /// An attribute this role may not carry (a pump on a clinician, any attribute on an admin).
        public static let attributeNotAllowed = Code(.attributeNotAllowed)
        /// An attribute the role needs is absent (a patient without `patient=`).
        public static let missingAttribute = Code(.missingAttribute)
        /// An account with this id exists already (disabled ones too: ids are never reused).
        public static let duplicateUser = Code(.duplicateUser)
        public static let unknownUser = Code(.unknownUser)
        public static let alreadyDisabled = Code(.alreadyDisabled)
        /// `user enable` of an account that is not disabled.
        public static let notDisabled = Code(.notDisabled)
        /// The audit log refused the entry; the change was not made (or, for a disable, stands
        /// and is logged on the next start).
        public static let auditFailed = Code(.auditFailed)
        /// The accounts database could not be read or written.
        public static let storageFailure = Code(.storageFailure)

        public var rawValue: String { base.rawValue }
        public var description: String { base.rawValue }
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { "\(reason) [\(code)]" }

    public static func == (lhs: AccountError, rhs: AccountError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

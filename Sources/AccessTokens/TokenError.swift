/// Why a token could not be issued, or the token key not loaded. Equality is on `code`.
public struct TokenError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidLifetime = "invalid_lifetime"
            case lifetimeTooLong = "lifetime_too_long"
            case unknownUser = "unknown_user"
            case disabledUser = "disabled_user"
            case signingKey = "signing_key"
            case signingFailed = "signing_failed"
            case invalidRevocation = "invalid_revocation"
            case storage
            case auditFailed = "audit_failed"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A `--ttl` that is not a whole number followed by `s`, `m` or `h`, or is zero.
        public static let invalidLifetime = Code(.invalidLifetime)
        /// Longer than `TokenLifetime.maximum`.
        public static let lifetimeTooLong = Code(.lifetimeTooLong)
        public static let unknownUser = Code(.unknownUser)
        public static let disabledUser = Code(.disabledUser)
        /// The token signing key file is unreadable, not a P-256 key, or too widely readable.
        public static let signingKey = Code(.signingKey)
        public static let signingFailed = Code(.signingFailed)
        /// A token id or user id to revoke that cannot be one.
        public static let invalidRevocation = Code(.invalidRevocation)
        /// The revocation store (`tokens.sqlite`) could not be read or written.
        public static let storage = Code(.storage)
        /// A revocation stands but its audit entry could not be written (logged at the next start).
        public static let auditFailed = Code(.auditFailed)

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

    public static func == (lhs: TokenError, rhs: TokenError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

/// Why a request could not be authenticated. Every case is an HTTP 401 (see `APIErrorResponse`)
/// except `unavailable` (503: the account store failed, not the caller); "authenticated but not
/// authorized" is a different thing (a 403, from the safety policy).
/// `reason` says what was wrong and what to do, without echoing the token. Equality is on `code`.
public struct AuthenticationError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case missing
            case malformed
            case badSignature = "bad_signature"
            case expired
            case notYetValid = "not_yet_valid"
            case wrongAudience = "wrong_audience"
            case wrongIssuer = "wrong_issuer"
            case unknownUser = "unknown_user"
            case disabledUser = "disabled_user"
            case revoked
            case unavailable
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No `Authorization` header, or an empty one.
        public static let missing = Code(.missing)
        /// Not `Bearer <token>`, or the token is not a well-formed JWT with the claims we issue.
        public static let malformed = Code(.malformed)
        /// Not signed by this gateway's token key (another key, another algorithm, `none`, edited).
        public static let badSignature = Code(.badSignature)
        /// Past its `exp`.
        public static let expired = Code(.expired)
        /// Issued in the future (`iat` beyond the allowed clock skew).
        public static let notYetValid = Code(.notYetValid)
        /// Not issued for the MedTunnel API (`aud`).
        public static let wrongAudience = Code(.wrongAudience)
        /// Not issued by this gateway (`iss`).
        public static let wrongIssuer = Code(.wrongIssuer)
        /// The subject has no account.
        public static let unknownUser = Code(.unknownUser)
        /// The subject's account is disabled: its tokens stop working at once.
        public static let disabledUser = Code(.disabledUser)
        /// The token was revoked (`medtunnel token revoke`, `POST /v1/tokens/revoke`).
        public static let revoked = Code(.revoked)
        /// The account store could not be read: no identity can be vouched for right now (503).
        public static let unavailable = Code(.unavailable)

        /// The stable name, used in the JSON body of the 401.
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

    public static func == (lhs: AuthenticationError, rhs: AuthenticationError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

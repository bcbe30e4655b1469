/// Why a WebAuthn ceremony, a challenge or an invitation was refused. `code` is stable (the
/// console answers it as `reason`); `reason` says what was wrong and what to do, and never holds
/// a challenge, a key or a token. Equality is on `code`.
public struct PasskeyError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case cborMalformed = "cbor_malformed"
            case authenticatorDataMalformed = "authenticator_data_malformed"
            case clientDataMalformed = "client_data_malformed"
            case typeMismatch = "type_mismatch"
            case challengeUnknown = "challenge_unknown"
            case challengeMismatch = "challenge_mismatch"
            case originMismatch = "origin_mismatch"
            case crossOriginRefused = "cross_origin_refused"
            case rpIDMismatch = "rp_id_mismatch"
            case userPresenceMissing = "user_presence_missing"
            case userVerificationMissing = "user_verification_missing"
            case backupFlagsInvalid = "backup_flags_invalid"
            case attestedDataMissing = "attested_data_missing"
            case attestationFormatUnsupported = "attestation_format_unsupported"
            case attestationStatementInvalid = "attestation_statement_invalid"
            case algorithmUnsupported = "algorithm_unsupported"
            case publicKeyInvalid = "public_key_invalid"
            case credentialIDInvalid = "credential_id_invalid"
            case credentialExists = "credential_exists"
            case credentialUnknown = "credential_unknown"
            case credentialUserMismatch = "credential_user_mismatch"
            case userHandleMissing = "user_handle_missing"
            case signatureInvalid = "signature_invalid"
            case counterRegressed = "counter_regressed"
            case relyingPartyInvalid = "relying_party_invalid"
            case invitationUnknown = "invitation_unknown"
            case invitationExpired = "invitation_expired"
            case invitationUsed = "invitation_used"
            case storageFailure = "storage_failure"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Bytes that are not the strict CBOR subset WebAuthn uses (indefinite lengths, floats,
        /// tags, duplicate map keys, too deep or too large, trailing bytes).
        public static let cborMalformed = Code(.cborMalformed)
        /// Authenticator data shorter than its fields, or with bytes its flags do not announce.
        public static let authenticatorDataMalformed = Code(.authenticatorDataMalformed)
        /// clientDataJSON that is not a JSON object with string `type`, `challenge`, `origin`.
        public static let clientDataMalformed = Code(.clientDataMalformed)
        /// `type` is not `webauthn.create` (registration) or `webauthn.get` (assertion).
        public static let typeMismatch = Code(.typeMismatch)
        /// A challenge this gateway did not issue, or already used, or past its 5 minutes.
        public static let challengeUnknown = Code(.challengeUnknown)
        /// A challenge issued for another ceremony, user or session.
        public static let challengeMismatch = Code(.challengeMismatch)
        /// `origin` is not exactly the configured origin (or a POST's Origin header is not).
        public static let originMismatch = Code(.originMismatch)
        /// `crossOrigin` is true: the ceremony ran in a frame of another site.
        public static let crossOriginRefused = Code(.crossOriginRefused)
        /// The authenticator data's rpIdHash is not SHA-256 of this relying party's id.
        public static let rpIDMismatch = Code(.rpIDMismatch)
        /// The UP flag is not set: nobody touched the authenticator.
        public static let userPresenceMissing = Code(.userPresenceMissing)
        /// The UV flag is not set: the authenticator did not verify the user (PIN, biometric).
        public static let userVerificationMissing = Code(.userVerificationMissing)
        /// BS (backed up) set while BE (backup eligible) is not.
        public static let backupFlagsInvalid = Code(.backupFlagsInvalid)
        /// A registration whose authenticator data has no attested credential (AT flag clear).
        public static let attestedDataMissing = Code(.attestedDataMissing)
        /// An attestation format other than `none`.
        public static let attestationFormatUnsupported = Code(.attestationFormatUnsupported)
        /// `none` attestation with a non-empty statement, or an attestationObject missing a field.
        public static let attestationStatementInvalid = Code(.attestationStatementInvalid)
        /// A COSE key that is not EC2 / ES256 (-7) / P-256.
        public static let algorithmUnsupported = Code(.algorithmUnsupported)
        /// An ES256 COSE key whose coordinates are not 32 bytes or not a point on P-256.
        public static let publicKeyInvalid = Code(.publicKeyInvalid)
        /// A credential id that is empty or over 1023 bytes.
        public static let credentialIDInvalid = Code(.credentialIDInvalid)
        /// The credential id is registered already.
        public static let credentialExists = Code(.credentialExists)
        /// No registered credential has this id.
        public static let credentialUnknown = Code(.credentialUnknown)
        /// The credential belongs to another user than the user handle or the session names.
        public static let credentialUserMismatch = Code(.credentialUserMismatch)
        /// A sign-in with a discoverable credential that returned no user handle.
        public static let userHandleMissing = Code(.userHandleMissing)
        /// The assertion signature does not verify with the credential's public key.
        public static let signatureInvalid = Code(.signatureInvalid)
        /// The signature counter did not increase: the authenticator may have been cloned.
        public static let counterRegressed = Code(.counterRegressed)
        /// A configured origin that is not `http(s)://HOST[:PORT]` with a host usable as an rpID.
        public static let relyingPartyInvalid = Code(.relyingPartyInvalid)
        /// An invitation token this gateway never issued.
        public static let invitationUnknown = Code(.invitationUnknown)
        /// An invitation older than 24 hours.
        public static let invitationExpired = Code(.invitationExpired)
        /// An invitation already used to register a passkey.
        public static let invitationUsed = Code(.invitationUsed)
        /// `passkeys.sqlite` could not be read or written.
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

    public static func == (lhs: PasskeyError, rhs: PasskeyError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

public import Crypto

/// Verifies a registration (`navigator.credentials.create`), WebAuthn Level 3 §7.1, with this
/// gateway's choices: attestation `none` only (the console trusts the invitation, not the
/// authenticator's maker), user verification required, ES256 only.
///
/// Steps, in the spec's order: clientDataJSON's type, challenge, origin, crossOrigin (7-10);
/// the attestationObject as CBOR (12); rpIdHash (13); UP (14); UV (15); BE/BS (16); the key's
/// algorithm (17); fmt `none` with an empty statement (19-21); the credential id's length (23).
/// That the id is not registered yet (24) is the store's check, when it saves the credential.
public enum RegistrationCeremony {
    public struct Response: Sendable, Hashable {
        public let clientDataJSON: [UInt8]
        public let attestationObject: [UInt8]

        public init(clientDataJSON: [UInt8], attestationObject: [UInt8]) {
            self.clientDataJSON = clientDataJSON
            self.attestationObject = attestationObject
        }
    }

    /// What a verified registration yields, to be stored.
    public struct NewCredential: Sendable, Hashable {
        public let credentialID: [UInt8]
        /// x9.63 uncompressed.
        public let publicKey: [UInt8]
        public let signCount: UInt32
        public let aaguid: [UInt8]
        public let backupEligible: Bool
    }

    public static func verify(
        _ response: Response,
        challenge: [UInt8],
        relyingParty: RelyingParty
    ) throws(PasskeyError) -> NewCredential {
        let clientData = try ClientData(json: response.clientDataJSON)
        try clientData.check(.create, challenge: challenge, relyingParty: relyingParty)
        let attestation = try CBOR.decode(response.attestationObject)
        guard case .map = attestation, case .text(let format)? = attestation[.text("fmt")],
            case .map(let statement)? = attestation[.text("attStmt")],
            case .bytes(let authDataBytes)? = attestation[.text("authData")]
        else {
            throw PasskeyError(
                .attestationStatementInvalid,
                "the attestationObject is not a map of fmt (text), attStmt (map) and authData (bytes)"
            )
        }
        let authData = try AuthenticatorData(authDataBytes)
        try authData.checkFlags(relyingParty: relyingParty)
        guard let attested = authData.attestedCredential else {
            throw PasskeyError(.attestedDataMissing, "the authenticator data holds no new credential (AT flag clear)")
        }
        let key = try COSEKey.p256PublicKey(attested.publicKeyCOSE)
        guard format == "none" else {
            throw PasskeyError(
                .attestationFormatUnsupported,
                "attestation format '\(format.prefix(32))' is not accepted; the console asks for 'none'"
            )
        }
        guard statement.isEmpty else {
            throw PasskeyError(.attestationStatementInvalid, "attestation 'none' must have an empty statement")
        }
        return NewCredential(
            credentialID: attested.credentialID,
            publicKey: Array(key.x963Representation),
            signCount: authData.signCount,
            aaguid: attested.aaguid,
            backupEligible: authData.flags.contains(.backupEligible)
        )
    }
}

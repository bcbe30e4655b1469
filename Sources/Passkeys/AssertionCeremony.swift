public import Crypto

/// Verifies an assertion (`navigator.credentials.get`), WebAuthn Level 3 §7.2: a sign-in with a
/// discoverable credential (the user is found by the credential) or a step-up (the user is the
/// session's and the credential must be theirs).
///
/// Steps: the credential is the stored one and the user handle, if sent, is its owner's (6-7;
/// the caller found `credential` by the response's id); clientDataJSON's type, challenge,
/// origin, crossOrigin (11-14); rpIdHash (15); UP (16); UV (17); BE/BS (18); the signature over
/// authenticatorData || SHA-256(clientDataJSON) (20-21); the signature counter (22).
public enum AssertionCeremony {
    public struct Response: Sendable, Hashable {
        public let credentialID: [UInt8]
        public let clientDataJSON: [UInt8]
        public let authenticatorData: [UInt8]
        /// ECDSA, DER.
        public let signature: [UInt8]
        /// `response.userHandle`; nil when the authenticator returned none.
        public let userHandle: [UInt8]?

        public init(
            credentialID: [UInt8],
            clientDataJSON: [UInt8],
            authenticatorData: [UInt8],
            signature: [UInt8],
            userHandle: [UInt8]?
        ) {
            self.credentialID = credentialID
            self.clientDataJSON = clientDataJSON
            self.authenticatorData = authenticatorData
            self.signature = signature
            self.userHandle = userHandle
        }
    }

    /// Who the assertion must be by: anyone with a discoverable credential (the handle must then
    /// be sent), or one user already known (step-up).
    public enum ExpectedUser: Sendable, Hashable {
        case discoverable
        case user(String)
    }

    /// Returns the new signature counter to store.
    public static func verify(
        _ response: Response,
        credential: PasskeyCredential,
        expectedUser: ExpectedUser,
        challenge: [UInt8],
        relyingParty: RelyingParty
    ) throws(PasskeyError) -> UInt32 {
        guard ConstantTime.equal(response.credentialID, credential.credentialID) else {
            throw PasskeyError(.credentialUnknown, "the assertion names another credential than the stored one")
        }
        switch (expectedUser, response.userHandle) {
        case (.discoverable, nil):
            throw PasskeyError(.userHandleMissing, "the authenticator returned no user handle; use a passkey")
        case (.user(let id), _) where id != credential.userID:
            throw PasskeyError(.credentialUserMismatch, "this passkey belongs to another user than the one signed in")
        default: break
        }
        if let handle = response.userHandle, !ConstantTime.equal(handle, credential.userHandle) {
            throw PasskeyError(.credentialUserMismatch, "the user handle is not the passkey owner's")
        }
        let clientData = try ClientData(json: response.clientDataJSON)
        try clientData.check(.get, challenge: challenge, relyingParty: relyingParty)
        let authData = try AuthenticatorData(response.authenticatorData)
        try authData.checkFlags(relyingParty: relyingParty)
        let key: P256.Signing.PublicKey
        let signature: P256.Signing.ECDSASignature
        do {
            key = try P256.Signing.PublicKey(x963Representation: credential.publicKey)
        } catch {
            throw PasskeyError(.publicKeyInvalid, "the stored public key does not load; register the passkey again")
        }
        do {
            signature = try P256.Signing.ECDSASignature(derRepresentation: response.signature)
        } catch {
            throw PasskeyError(.signatureInvalid, "the signature is not an ECDSA signature in DER")
        }
        // ES256 hashes what it signs with SHA-256: the message is authData || SHA-256(clientDataJSON).
        let signed = authData.raw + Array(SHA256.hash(data: clientData.raw))
        guard key.isValidSignature(signature, for: signed) else {
            throw PasskeyError(.signatureInvalid, "the signature does not verify with the passkey's public key")
        }
        try checkCounter(stored: credential.signCount, received: authData.signCount)
        return authData.signCount
    }

    /// §7.2 step 22: when either counter is non-zero, the received one must be greater than the
    /// stored one; otherwise two copies of the authenticator may exist. Both zero: the
    /// authenticator keeps no counter (synced passkeys), nothing to compare.
    public static func checkCounter(stored: UInt32, received: UInt32) throws(PasskeyError) {
        guard stored != 0 || received != 0 else { return }
        guard received > stored else {
            throw PasskeyError(
                .counterRegressed,
                "the passkey's signature counter went from \(stored) to \(received): it may have been cloned; "
                    + "ask an admin to check this account"
            )
        }
    }
}

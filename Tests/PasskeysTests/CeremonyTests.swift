import Crypto
import MedTunnelTestSupport
import Passkeys
import Testing

/// The registration and assertion ceremonies against a software authenticator that makes real
/// CBOR, authenticator data and ES256 signatures: the happy paths, then one test per refusal,
/// each asserting its specific error code.
@Suite("Passkeys: WebAuthn ceremonies")
struct CeremonyTests {
    static let origin = "https://console.example.org"
    static let rp = try! RelyingParty(origin: origin)
    static let now: Int64 = 1_800_000_000_000

    var table = ChallengeTable()
    var generator = SystemRandomNumberGenerator()

    mutating func challenge(_ ceremony: ChallengeTable.Ceremony = .registration) -> ChallengeTable.Challenge {
        table.issue(ceremony, binding: nil, nowMilliseconds: Self.now, using: &generator)
    }

    static func authenticator() -> SoftwareAuthenticator {
        SoftwareAuthenticator(rpID: rp.id, origin: rp.origin)
    }

    /// Registers `authenticator` and returns the credential as the store would keep it.
    mutating func registered(_ authenticator: inout SoftwareAuthenticator) throws -> PasskeyCredential {
        let c = challenge()
        let made = authenticator.register(challenge: c.text, userHandle: [1, 2, 3, 4])
        let new = try RegistrationCeremony.verify(
            .init(clientDataJSON: made.clientDataJSON, attestationObject: made.attestationObject),
            challenge: c.bytes,
            relyingParty: Self.rp
        )
        return PasskeyCredential(
            credentialID: new.credentialID,
            userID: "olga",
            userHandle: [1, 2, 3, 4],
            publicKey: new.publicKey,
            signCount: new.signCount,
            createdAtMilliseconds: Self.now,
            lastUsedAtMilliseconds: nil
        )
    }

    mutating func register(
        _ tamper: SoftwareAuthenticator.Tamper,
        challenge given: ChallengeTable.Challenge? = nil
    ) throws(PasskeyError) -> RegistrationCeremony.NewCredential {
        var authenticator = Self.authenticator()
        let c = given ?? challenge()
        let made = authenticator.register(challenge: c.text, userHandle: [9], tamper: tamper)
        return try RegistrationCeremony.verify(
            .init(clientDataJSON: made.clientDataJSON, attestationObject: made.attestationObject),
            challenge: c.bytes,
            relyingParty: Self.rp
        )
    }

    mutating func assertion(
        _ tamper: SoftwareAuthenticator.Tamper,
        stored: ((PasskeyCredential) -> PasskeyCredential)? = nil,
        expectedUser: AssertionCeremony.ExpectedUser = .discoverable
    ) throws -> UInt32 {
        var authenticator = Self.authenticator()
        var credential = try registered(&authenticator)
        if let stored { credential = stored(credential) }
        let c = challenge(.signIn)
        let a = authenticator.assert(challenge: c.text, tamper: tamper)
        return try AssertionCeremony.verify(
            .init(
                credentialID: a.credentialID,
                clientDataJSON: a.clientDataJSON,
                authenticatorData: a.authenticatorData,
                signature: a.signature,
                userHandle: a.userHandle
            ),
            credential: credential,
            expectedUser: expectedUser,
            challenge: c.bytes,
            relyingParty: Self.rp
        )
    }

    func expectCode(_ code: PasskeyError.Code, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected \(code), but it was accepted")
        } catch let error as PasskeyError {
            #expect(error.code == code, "\(error)")
        } catch {
            Issue.record("expected \(code), got \(error)")
        }
    }

    // MARK: Accepted

    @Test("a registration yields the credential id, its P-256 key and counter; an assertion verifies")
    mutating func happyPath() throws {
        var authenticator = Self.authenticator()
        let credential = try registered(&authenticator)
        #expect(credential.credentialID == authenticator.credentialID)
        #expect(credential.publicKey == Array(authenticator.key.publicKey.x963Representation))
        let c = challenge(.signIn)
        let a = authenticator.assert(challenge: c.text)
        let count = try AssertionCeremony.verify(
            .init(
                credentialID: a.credentialID,
                clientDataJSON: a.clientDataJSON,
                authenticatorData: a.authenticatorData,
                signature: a.signature,
                userHandle: a.userHandle
            ),
            credential: credential,
            expectedUser: .user("olga"),
            challenge: c.bytes,
            relyingParty: Self.rp
        )
        #expect(count == 1)
    }

    @Test("an authenticator without a counter (always 0) is accepted again and again")
    mutating func zeroCounter() throws {
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.signCount = 0
        #expect(try assertion(tamper) == 0)
    }

    // MARK: Refused: registration

    @Test("wrong origin in clientDataJSON: origin_mismatch")
    mutating func wrongOrigin() {
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.origin = "https://evil.example.org"
        expectCode(.originMismatch) { _ = try register(tamper) }
        expectCode(.originMismatch) { _ = try assertion(tamper) }
    }

    @Test("a create response posted as get (and the reverse): type_mismatch")
    mutating func wrongType() {
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.type = "webauthn.get"
        expectCode(.typeMismatch) { _ = try register(tamper) }
        tamper.type = "webauthn.create"
        expectCode(.typeMismatch) { _ = try assertion(tamper) }
    }

    @Test("clientDataJSON naming another challenge: challenge_mismatch")
    mutating func otherChallenge() {
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.challenge = SoftwareAuthenticator.base64url([UInt8](repeating: 7, count: 32))
        expectCode(.challengeMismatch) { _ = try register(tamper) }
    }

    @Test("crossOrigin true: cross_origin_refused")
    mutating func crossOrigin() {
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.crossOrigin = true
        expectCode(.crossOriginRefused) { _ = try register(tamper) }
    }

    @Test("authenticator data for another rpId: rp_id_mismatch")
    mutating func wrongRPID() {
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.rpID = "evil.example.org"
        expectCode(.rpIDMismatch) { _ = try register(tamper) }
        expectCode(.rpIDMismatch) { _ = try assertion(tamper) }
    }

    @Test("UV flag clear: user_verification_missing; UP clear: user_presence_missing")
    mutating func flags() {
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.flags = 0x41  // UP | AT
        expectCode(.userVerificationMissing) { _ = try register(tamper) }
        tamper.flags = 0x01
        expectCode(.userVerificationMissing) { _ = try assertion(tamper) }
        tamper.flags = 0x44  // UV | AT
        expectCode(.userPresenceMissing) { _ = try register(tamper) }
        tamper.flags = 0x55  // BS without BE
        expectCode(.backupFlagsInvalid) { _ = try register(tamper) }
    }

    @Test("attestation fmt packed refused: attestation_format_unsupported; none with a statement refused")
    mutating func packed() {
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.format = "packed"
        tamper.statement = [(.text("alg"), .negative(-7)), (.text("sig"), .bytes([1, 2, 3]))]
        expectCode(.attestationFormatUnsupported) { _ = try register(tamper) }
        tamper.format = "none"
        expectCode(.attestationStatementInvalid) { _ = try register(tamper) }
    }

    @Test("a key of another algorithm (EdDSA -8, RS256 -257): algorithm_unsupported")
    mutating func wrongAlgorithm() {
        for alg: Int64 in [-8, -257, -35] {
            var tamper = SoftwareAuthenticator.Tamper()
            tamper.algorithm = alg
            expectCode(.algorithmUnsupported) { _ = try register(tamper) }
        }
    }

    @Test("malformed CBOR: cbor_malformed (truncated, indefinite length, tag, float, duplicate key)")
    mutating func malformedCBOR() {
        let cases: [[UInt8]] = [
            [0xa3, 0x63, 0x66, 0x6d],  // map cut short
            [0xbf, 0x63, 0x66, 0x6d, 0x74, 0x64, 0x6e, 0x6f, 0x6e, 0x65, 0xff],  // indefinite map
            [0xc0, 0x60],  // tag 0
            [0xfb, 0, 0, 0, 0, 0, 0, 0, 0],  // float64
            TestCBOR.map([(.text("fmt"), .text("none")), (.text("fmt"), .text("none"))]).encoded,
            [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],  // byte string of 2^64-1 bytes
            Array(repeating: 0x81, count: 20) + [0x00],  // nested 20 deep
            [],
        ]
        for bytes in cases {
            var tamper = SoftwareAuthenticator.Tamper()
            tamper.attestationObject = bytes
            expectCode(.cborMalformed) { _ = try register(tamper) }
        }
    }

    @Test("trailing bytes after the attestationObject or the authenticator data are refused")
    mutating func trailingBytes() {
        var authenticator = Self.authenticator()
        let c = challenge()
        let made = authenticator.register(challenge: c.text, userHandle: [9])
        expectCode(.cborMalformed) {
            _ = try RegistrationCeremony.verify(
                .init(clientDataJSON: made.clientDataJSON, attestationObject: made.attestationObject + [0x00]),
                challenge: c.bytes,
                relyingParty: Self.rp
            )
        }
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.trailing = [0x00]
        expectCode(.authenticatorDataMalformed) { _ = try register(tamper) }
        expectCode(.authenticatorDataMalformed) { _ = try assertion(tamper) }
    }

    // MARK: Refused: assertion

    @Test("a signature by another key, or with a flipped bit: signature_invalid")
    mutating func badSignature() {
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.signWith = P256.Signing.PrivateKey()
        expectCode(.signatureInvalid) { _ = try assertion(tamper) }
        tamper = SoftwareAuthenticator.Tamper()
        tamper.corruptSignature = true
        expectCode(.signatureInvalid) { _ = try assertion(tamper) }
    }

    @Test("a counter at or below the stored one: counter_regressed")
    mutating func counterRegression() {
        // Stored 5, the authenticator says 1.
        expectCode(.counterRegressed) {
            _ = try assertion(SoftwareAuthenticator.Tamper()) { stored in
                PasskeyCredential(
                    credentialID: stored.credentialID,
                    userID: stored.userID,
                    userHandle: stored.userHandle,
                    publicKey: stored.publicKey,
                    signCount: 5,
                    createdAtMilliseconds: 0,
                    lastUsedAtMilliseconds: nil
                )
            }
        }
        #expect(throws: PasskeyError(.counterRegressed, "")) {
            try AssertionCeremony.checkCounter(stored: 5, received: 5)
        }
        #expect(throws: PasskeyError(.counterRegressed, "")) {
            try AssertionCeremony.checkCounter(stored: 5, received: 0)
        }
        #expect(throws: Never.self) { try AssertionCeremony.checkCounter(stored: 5, received: 6) }
        #expect(throws: Never.self) { try AssertionCeremony.checkCounter(stored: 0, received: 0) }
    }

    @Test("a step-up by another user's passkey, or a user handle not the owner's: credential_user_mismatch")
    mutating func otherUser() {
        expectCode(.credentialUserMismatch) { _ = try assertion(.init(), expectedUser: .user("mallory")) }
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.userHandle = .some([6, 6, 6])
        expectCode(.credentialUserMismatch) { _ = try assertion(tamper) }
        tamper.userHandle = .some(nil)
        expectCode(.userHandleMissing) { _ = try assertion(tamper) }
    }

    // MARK: Challenges

    @Test("a challenge works once: replayed, it is challenge_unknown")
    mutating func replayedChallenge() throws {
        let c = challenge(.signIn)
        _ = try table.consume(c.text, ceremony: .signIn, binding: nil, nowMilliseconds: Self.now)
        #expect(throws: PasskeyError(.challengeUnknown, "")) {
            try table.consume(c.text, ceremony: .signIn, binding: nil, nowMilliseconds: Self.now)
        }
    }

    @Test("a challenge older than 5 minutes is challenge_unknown; one for another ceremony or binding is refused")
    mutating func expiredChallenge() throws {
        let c = challenge(.signIn)
        #expect(throws: PasskeyError(.challengeUnknown, "")) {
            try table.consume(
                c.text,
                ceremony: .signIn,
                binding: nil,
                nowMilliseconds: Self.now + ChallengeTable.lifetimeMilliseconds
            )
        }
        let s = table.issue(.stepUp, binding: "session-a", nowMilliseconds: Self.now, using: &generator)
        #expect(throws: PasskeyError(.challengeMismatch, "")) {
            try table.consume(s.text, ceremony: .stepUp, binding: "session-b", nowMilliseconds: Self.now)
        }
        let r = challenge(.registration)
        #expect(throws: PasskeyError(.challengeMismatch, "")) {
            try table.consume(r.text, ceremony: .signIn, binding: nil, nowMilliseconds: Self.now)
        }
        #expect(c.bytes.count == 32 && table.count == 0)
    }

    // MARK: Relying party

    @Test("origins: https or http://localhost, no IP address as rpID, default port dropped")
    func origins() throws {
        #expect(try RelyingParty(origin: "https://Console.Example.org:443/").origin == "https://console.example.org")
        #expect(try RelyingParty(origin: "http://localhost:8080").id == "localhost")
        for bad in [
            "http://127.0.0.1:8080", "http://console.example.org", "https://[::1]:8443", "ftp://x", "https://a/b",
        ] {
            #expect(throws: PasskeyError(.relyingPartyInvalid, "")) { try RelyingParty(origin: bad) }
        }
    }
}

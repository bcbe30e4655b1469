import AccessTokens
import Accounts
import AuditLog
import Crypto
import Foundation
import SafetyPolicy
import Testing
import TherapyModel

@Suite("bearer tokens and the authenticator")
struct AuthenticatorTests {
    struct Setup {
        let fixture: AccountsFixture
        let key: TokenSigningKey
        let issuer: TokenIssuer
        let authenticator: Authenticator
    }

    static let now = AccountsFixture.now

    func setup() async throws -> Setup {
        let fixture = try await AccountsFixture.make()
        try await fixture.add("alice", .patient, ["patient=patient-001", "phone=PHONE-1"])
        try await fixture.add("drsmith", .clinician, ["patient=patient-001", "patient=patient-002"])
        let key = try TokenSigningKey.load(stateDirectory: fixture.directory)
        return Setup(
            fixture: fixture,
            key: key,
            issuer: try await TokenIssuer(key: key, accounts: fixture.store),
            authenticator: try await Authenticator(key: key, accounts: fixture.store)
        )
    }

    func token(
        _ setup: Setup,
        _ user: String = "alice",
        ttl: String = "15m",
        at time: Timestamp = now
    ) async throws
        -> String
    {
        try await setup.issuer.issue(to: user, lifetime: try TokenLifetime(parsing: ttl), now: time).token
    }

    func expectFailure(
        _ setup: Setup,
        _ header: String?,
        _ code: AuthenticationError.Code,
        at time: Timestamp = now,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            let user = try await setup.authenticator.authenticate(authorization: header, now: time)
            Issue.record("authenticated \(user.account.id); expected \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error.reason)", sourceLocation: sourceLocation)
            #expect(error.response.status == 401, sourceLocation: sourceLocation)
        }
    }

    @Test("a valid token gives the account's actor, read fresh from the store")
    func valid() async throws {
        let setup = try await setup()
        let token = try await token(setup, "drsmith")
        #expect(token.split(separator: ".").count == 3)
        let user = try await setup.authenticator.authenticate(authorization: "Bearer \(token)", now: Self.now)
        #expect(user.account.id == "drsmith")
        #expect(user.actor.role == .clinician && user.actor.isAuthenticated)
        #expect(user.actor.patientIDs == ["patient-001", "patient-002"])
        #expect(user.expiresAt.millisecondsSinceEpoch == (Self.now.millisecondsSinceEpoch / 1000 + 900) * 1000)
        // The scheme is case-insensitive (RFC 7235).
        _ = try await setup.authenticator.authenticate(authorization: "bearer \(token)", now: Self.now)
    }

    @Test("missing and malformed headers are 401 missing / malformed")
    func missingAndMalformed() async throws {
        let setup = try await setup()
        let token = try await token(setup)
        await expectFailure(setup, nil, .missing)
        await expectFailure(setup, "", .missing)
        await expectFailure(setup, "   ", .missing)
        await expectFailure(setup, "Basic YWxpY2U6cHc=", .malformed)
        await expectFailure(setup, "Bearer", .malformed)
        await expectFailure(setup, token, .malformed)
        await expectFailure(setup, "Bearer \(token) extra", .malformed)
        await expectFailure(setup, "Bearer a.b", .malformed)
        await expectFailure(setup, "Bearer not-a.jwt.at-all!", .malformed)
        await expectFailure(setup, "Bearer ..", .malformed)
        await expectFailure(setup, "Bearer " + String(repeating: "a", count: 9000), .malformed)
    }

    @Test("a token signed by another key, edited, unsigned or HMAC-signed is 401 bad_signature")
    func forged() async throws {
        let setup = try await setup()
        let otherKey = TokenSigningKey.generate()
        let forger = try await TokenIssuer(key: otherKey, accounts: setup.fixture.store)
        let forgedToken = try await forger.issue(to: "alice", lifetime: .default, now: Self.now).token
        await expectFailure(setup, "Bearer \(forgedToken)", .badSignature)

        // Our token with its payload swapped for one naming the clinician.
        let good = try await token(setup).split(separator: ".")
        let other = try await token(setup, "drsmith").split(separator: ".")
        await expectFailure(setup, "Bearer \(good[0]).\(other[1]).\(good[2])", .badSignature)

        // alg "none" and alg "HS256" with the payload of a real token.
        for header in [#"{"alg":"none","typ":"JWT"}"#, #"{"alg":"HS256","typ":"JWT"}"#] {
            let encoded = Self.base64URL(Array(header.utf8))
            await expectFailure(setup, "Bearer \(encoded).\(good[1]).\(good[2])", .badSignature)
        }
        // A correct header with a signature of the wrong length.
        await expectFailure(setup, "Bearer \(good[0]).\(good[1]).AAAA", .badSignature)
    }

    @Test("a token verified once is not re-verified, but any edit of it is: the copy is verified and refused")
    func verifiedTokensStayExact() async throws {
        let setup = try await setup()
        let good = try await token(setup)
        for _ in 0..<2 {
            _ = try await setup.authenticator.authenticate(authorization: "Bearer \(good)", now: Self.now)
        }
        let parts = good.split(separator: ".")
        let other = try await token(setup, "drsmith").split(separator: ".")
        await expectFailure(setup, "Bearer \(parts[0]).\(other[1]).\(parts[2])", .badSignature)
        var signature = Array(parts[2].utf8)
        signature[4] = signature[4] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        await expectFailure(
            setup,
            "Bearer \(parts[0]).\(parts[1]).\(String(decoding: signature, as: UTF8.self))",
            .badSignature
        )
        await expectFailure(setup, "Bearer \(good).", .malformed)
        // The verified token itself still passes, and still expires by the clock.
        _ = try await setup.authenticator.authenticate(authorization: "Bearer \(good)", now: Self.now)
        await expectFailure(setup, "Bearer \(good)", .expired, at: Self.now.advanced(byMinutes: 16))
    }

    @Test("expired and not-yet-valid tokens are refused with those reasons, by the clock passed in")
    func time() async throws {
        let setup = try await setup()
        let token = try await token(setup, ttl: "60s")
        let issued = Self.now.millisecondsSinceEpoch / 1000 * 1000
        _ = try await setup.authenticator.authenticate(
            authorization: "Bearer \(token)",
            now: Timestamp(millisecondsSinceEpoch: issued + 59_999)
        )
        await expectFailure(setup, "Bearer \(token)", .expired, at: Timestamp(millisecondsSinceEpoch: issued + 60_000))
        await expectFailure(setup, "Bearer \(token)", .expired, at: Self.now.advanced(byMinutes: 600))

        let future = try await self.token(setup, at: Self.now.advanced(byMinutes: 10))
        await expectFailure(setup, "Bearer \(future)", .notYetValid)
        // Within the clock-skew allowance (60 s) it is accepted.
        let slightlyAhead = try await self.token(setup, at: Timestamp(millisecondsSinceEpoch: issued + 30_000))
        _ = try await setup.authenticator.authenticate(authorization: "Bearer \(slightlyAhead)", now: Self.now)
    }

    @Test("a token for another audience or from another issuer is refused")
    func audienceAndIssuer() async throws {
        let setup = try await setup()
        let elsewhere = try await TokenIssuer(
            key: setup.key,
            accounts: setup.fixture.store,
            settings: TokenSettings(audience: "medtunnel-console")
        )
        let wrongAudience = try await elsewhere.issue(to: "alice", lifetime: .default, now: Self.now).token
        await expectFailure(setup, "Bearer \(wrongAudience)", .wrongAudience)

        let impostor = try await TokenIssuer(
            key: setup.key,
            accounts: setup.fixture.store,
            settings: TokenSettings(issuer: "someone-else")
        )
        let wrongIssuer = try await impostor.issue(to: "alice", lifetime: .default, now: Self.now).token
        await expectFailure(setup, "Bearer \(wrongIssuer)", .wrongIssuer)
    }

    @Test("a token whose user has no account here, or is disabled, is refused at once")
    func unknownAndDisabledUsers() async throws {
        let setup = try await setup()
        // A token signed by this key for a user that exists only in another store.
        let elsewhere = try await AccountsFixture.make()
        try await elsewhere.add("mallory", .patient, ["patient=patient-001"])
        let issuerElsewhere = try await TokenIssuer(key: setup.key, accounts: elsewhere.store)
        let stranger = try await issuerElsewhere.issue(to: "mallory", lifetime: .default, now: Self.now).token
        await expectFailure(setup, "Bearer \(stranger)", .unknownUser)

        let token = try await token(setup, "drsmith")
        _ = try await setup.authenticator.authenticate(authorization: "Bearer \(token)", now: Self.now)
        _ = try await setup.fixture.store.disable(
            id: "drsmith",
            by: AccountsFixture.admin,
            now: Self.now,
            audit: setup.fixture.audit
        )
        await expectFailure(setup, "Bearer \(token)", .disabledUser)
    }

    @Test(
        "an account disabled through another connection to accounts.sqlite (as `medtunnel user disable` in its own process) is refused on the next request"
    )
    func disabledThroughAnotherConnection() async throws {
        let setup = try await setup()
        let token = try await token(setup, "drsmith")
        // Authenticated several times: the account is cached by now.
        for _ in 0..<3 {
            let user = try await setup.authenticator.authenticate(authorization: "Bearer \(token)", now: Self.now)
            #expect(user.account.id == "drsmith" && !user.account.isDisabled)
        }
        // The same state directory opened again: its own SQLite connection and audit log writer.
        let other = try await setup.fixture.reopened()
        _ = try await other.store.disable(id: "drsmith", by: AccountsFixture.admin, now: Self.now, audit: other.audit)
        await expectFailure(setup, "Bearer \(token)", .disabledUser)
        // alice, untouched, still authenticates.
        let alice = try await self.token(setup, "alice")
        _ = try await setup.authenticator.authenticate(authorization: "Bearer \(alice)", now: Self.now)
    }

    @Test("an account created through another connection after a token for it was refused is found at once")
    func createdThroughAnotherConnection() async throws {
        let setup = try await setup()
        // carol's token, signed by this gateway's key before carol has an account here.
        let elsewhere = try await AccountsFixture.make()
        try await elsewhere.add("carol", .caregiver, ["patient=patient-001"])
        let issuerElsewhere = try await TokenIssuer(key: setup.key, accounts: elsewhere.store)
        let token = try await issuerElsewhere.issue(to: "carol", lifetime: .default, now: Self.now).token
        await expectFailure(setup, "Bearer \(token)", .unknownUser)
        await expectFailure(setup, "Bearer \(token)", .unknownUser)
        try await setup.fixture.reopened().add("carol", .caregiver, ["patient=patient-001"])
        let user = try await setup.authenticator.authenticate(authorization: "Bearer \(token)", now: Self.now)
        #expect(user.account.id == "carol" && user.actor.role == .caregiver)
    }

    @Test("no token is issued for an unknown or disabled account")
    func issuingRefusals() async throws {
        let setup = try await setup()
        await #expect(throws: TokenError(.unknownUser, "")) {
            try await setup.issuer.issue(to: "nobody", lifetime: .default, now: Self.now)
        }
        _ = try await setup.fixture.store.disable(
            id: "alice",
            by: AccountsFixture.admin,
            now: Self.now,
            audit: setup.fixture.audit
        )
        await #expect(throws: TokenError(.disabledUser, "")) {
            try await setup.issuer.issue(to: "alice", lifetime: .default, now: Self.now)
        }
    }

    @Test("ttl: s, m, h up to 12 h; everything else refused naming the input")
    func lifetimes() throws {
        #expect(try TokenLifetime(parsing: "15m").seconds == 900)
        #expect(try TokenLifetime(parsing: "90s").seconds == 90)
        #expect(try TokenLifetime(parsing: "12h").seconds == 43_200)
        for (text, code) in [
            ("0m", TokenError.Code.invalidLifetime), ("15", .invalidLifetime), ("m", .invalidLifetime),
            ("-5m", .invalidLifetime), ("1.5h", .invalidLifetime), ("15min", .invalidLifetime),
            ("+5m", .invalidLifetime),
            ("13h", .lifetimeTooLong), ("43201s", .lifetimeTooLong), ("99999999999999999h", .lifetimeTooLong),
        ] {
            let error = #expect(throws: TokenError.self) { try TokenLifetime(parsing: text) }
            #expect(error?.code == code, "\(text)")
            #expect(error?.reason.contains("'\(text)'") == true)
        }
    }

    @Test("the token key is created once, mode 0600, and reloaded; a widely readable key file is refused")
    func keyFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tokkey-\(UUID().uuidString)")
            .path
        let first = try TokenSigningKey.load(stateDirectory: directory)
        let path = TokenSigningKey.path(stateDirectory: directory)
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)
        #expect(try TokenSigningKey.load(stateDirectory: directory).keyID == first.keyID)
        #expect(throws: TokenError(.signingKey, "")) {
            try TokenSigningKey.load(stateDirectory: directory + "-none", create: false)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: TokenError(.signingKey, "")) { try TokenSigningKey.load(stateDirectory: directory) }
    }

    @Test("401 responses carry the reason and a Bearer challenge; authorization failures are 403")
    func responses() throws {
        let expired = AuthenticationError(.expired, "the token expired").response
        #expect(expired.status == 401)
        #expect(expired.headers["WWW-Authenticate"]?.contains(#"error="invalid_token""#) == true)
        let body = try JSONSerialization.jsonObject(with: Data(expired.body)) as? [String: String]
        #expect(body == ["error": "unauthenticated", "reason": "expired", "message": "the token expired"])
        #expect(AuthenticationError(.missing, "").response.headers["WWW-Authenticate"] == #"Bearer realm="medtunnel""#)
        #expect(AuthenticationError(.unavailable, "").response.status == 503)

        let forbidden = try #require(APIErrorResponse.forbidden(PolicyReason(code: .notAuthorized, message: "no")))
        #expect(forbidden.status == 403)
        #expect(String(decoding: forbidden.body, as: UTF8.self).contains(#""reason":"not_authorized""#))
        #expect(APIErrorResponse.forbidden(PolicyReason(code: .controlNotPermitted, message: "no"))?.status == 403)
        #expect(APIErrorResponse.forbidden(PolicyReason(code: .prescriptionMaxBolusExceeded, message: "no")) == nil)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

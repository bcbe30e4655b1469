import AuditLog
import ConsoleAuth
import Foundation
import HTTPTypes
import Hummingbird
import MedTunnelTestSupport
import Passkeys
import Testing

/// The console's routes as a browser uses them: invitation → registration → sign-in → whoami →
/// step-up → sign-out, and every refusal of a session, CSRF token, origin or step-up.
@Suite("Console: passkey sign-in and sessions")
struct ConsoleSessionTests {
    static func software() -> SoftwareAuthenticator {
        SoftwareAuthenticator(rpID: "localhost", origin: ConsoleFixture.origin)
    }

    @Test("invite, register, sign in, whoami, step up, sign out: each audited, the internal token revoked")
    func fullFlow() async throws {
        let fixture = try await ConsoleFixture()
        var key = Self.software()
        let registered = try await fixture.register(&key)
        #expect(registered.status == .ok, "\(registered.text)")
        #expect(try await fixture.passkeys.credentials(ofUser: "olga").count == 1)

        let (signedIn, browser) = try await fixture.signIn(&key)
        #expect(signedIn.status == .ok, "\(signedIn.text)")
        let cookie = signedIn.headers[.setCookie] ?? ""
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/console"))
        #expect(!cookie.contains("Secure"))
        #expect(signedIn.json["user"] as? String == "olga" && signedIn.json["role"] as? String == "operator")
        #expect(!signedIn.text.contains("Bearer"))

        let who = try await fixture.request(.get, "/console/whoami", browser: browser)
        #expect(who.status == .ok && who.json["user"] as? String == "olga")
        #expect(who.json["stepUpAgeSeconds"] as? Int == 0)

        // The internal token authenticates with the gateway's own authenticator.
        let session = try await fixture.auth.sessions.resume(id: browser.cookie, nowMilliseconds: fixture.now)
        let user = try await fixture.authenticator.authenticate(
            authorization: session.authorization,
            now: .init(millisecondsSinceEpoch: fixture.now)
        )
        #expect(user.account.id == "olga")

        fixture.advance(seconds: 60)
        let stepped = try await fixture.stepUp(&key, browser: browser)
        #expect(stepped.status == .ok && stepped.json["stepUpAgeSeconds"] as? Int == 0, "\(stepped.text)")

        let out = try await fixture.request(.post, "/console/auth/signout", json: [:], browser: browser)
        #expect(out.status == .ok && (out.headers[.setCookie] ?? "").contains("Max-Age=0"))
        let again = try await fixture.request(.get, "/console/whoami", browser: browser)
        #expect(again.status == .unauthorized && again.reason == "session_missing")
        await #expect(throws: (any Error).self) {
            try await fixture.authenticator.authenticate(
                authorization: session.authorization,
                now: .init(millisecondsSinceEpoch: fixture.now)
            )
        }
        let kinds = try await fixture.auditKinds()
        for kind in ["passkey.registered", "console.signin", "console.stepup", "console.signout", "auth.token_revoked"]
        {
            #expect(kinds.contains(kind), "\(kind) missing from \(kinds)")
        }
        // No secret in any console entry.
        for entry in try await fixture.auditEntries() {
            let text = String(decoding: entry.event.payload, as: UTF8.self)
            #expect(!text.contains(browser.cookie!) && !text.contains(browser.csrf!))
        }
    }

    @Test("an invitation registers one passkey: used again it is invitation_used (410)")
    func invitationSingleUse() async throws {
        let fixture = try await ConsoleFixture()
        let token = try await fixture.invite()
        var key = Self.software()
        for attempt in 0..<2 {
            let options = try await fixture.request(
                .post,
                "/console/auth/register/options",
                json: ["invitation": token]
            )
            if attempt == 1 {
                #expect(options.status == .gone && options.reason == "invitation_used")
                break
            }
            let publicKey = options.json["publicKey"] as! [String: Any]
            #expect((publicKey["authenticatorSelection"] as? [String: Any])?["residentKey"] as? String == "required")
            #expect(
                (publicKey["authenticatorSelection"] as? [String: Any])?["userVerification"] as? String == "required"
            )
            #expect(publicKey["attestation"] as? String == "none")
            #expect((publicKey["rp"] as? [String: Any])?["id"] as? String == "localhost")
            let made = key.register(challenge: publicKey["challenge"] as! String, userHandle: [1])
            let finish = try await fixture.request(
                .post,
                "/console/auth/register/finish",
                json: ["invitation": token, "credential": key.registrationJSON(made)]
            )
            #expect(finish.status == .ok, "\(finish.text)")
        }
    }

    @Test("a failed registration leaves the invitation usable, and is audited with its code")
    func failedRegistrationKeepsInvitation() async throws {
        let fixture = try await ConsoleFixture()
        let token = try await fixture.invite()
        var key = Self.software()
        let options = try await fixture.request(.post, "/console/auth/register/options", json: ["invitation": token])
        let publicKey = options.json["publicKey"] as! [String: Any]
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.format = "packed"
        let made = key.register(challenge: publicKey["challenge"] as! String, userHandle: [1], tamper: tamper)
        let finish = try await fixture.request(
            .post,
            "/console/auth/register/finish",
            json: ["invitation": token, "credential": key.registrationJSON(made)]
        )
        #expect(finish.reason == "attestation_format_unsupported")
        _ = try await fixture.passkeys.usableInvitation(token: token, nowMilliseconds: fixture.now)
        #expect(
            try await fixture.auditPayloads(.consoleSignInFailed).contains {
                $0.contains("attestation_format_unsupported")
            }
        )
    }

    @Test("an invitation expires after 24 hours: invitation_expired")
    func invitationExpiry() async throws {
        let fixture = try await ConsoleFixture()
        let token = try await fixture.invite()
        fixture.advance(seconds: 24 * 3600)
        let options = try await fixture.request(.post, "/console/auth/register/options", json: ["invitation": token])
        #expect(options.status == .gone && options.reason == "invitation_expired")
        let page = try await fixture.request(.get, "/console/invite/\(token)")
        #expect(page.status == .gone && page.text.contains("expired"))
    }

    @Test("a sign-in with a replayed challenge is challenge_unknown, and the failure is audited")
    func replayedSignIn() async throws {
        let fixture = try await ConsoleFixture()
        var key = Self.software()
        _ = try await fixture.register(&key)
        let options = try await fixture.request(.post, "/console/auth/signin/options", json: [:])
        let challenge = (options.json["publicKey"] as! [String: Any])["challenge"] as! String
        let first = key.assert(challenge: challenge)
        let ok = try await fixture.request(.post, "/console/auth/signin/finish", json: ["credential": first.json])
        #expect(ok.status == .ok)
        let replay = try await fixture.request(.post, "/console/auth/signin/finish", json: ["credential": first.json])
        #expect(replay.status == .unauthorized && replay.reason == "challenge_unknown")
        #expect(try await fixture.auditPayloads(.consoleSignInFailed).contains { $0.contains("challenge_unknown") })
    }

    @Test("a sign-in with an expired challenge is challenge_unknown; a regressed counter counter_regressed")
    func expiredChallengeAndCounter() async throws {
        let fixture = try await ConsoleFixture()
        var key = Self.software()
        _ = try await fixture.register(&key)
        let options = try await fixture.request(.post, "/console/auth/signin/options", json: [:])
        let challenge = (options.json["publicKey"] as! [String: Any])["challenge"] as! String
        fixture.advance(seconds: 5 * 60)
        let late = try await fixture.request(
            .post,
            "/console/auth/signin/finish",
            json: ["credential": key.assert(challenge: challenge).json]
        )
        #expect(late.reason == "challenge_unknown")
        let (first, _) = try await fixture.signIn(&key)
        #expect(first.status == .ok)
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.signCount = 1
        let (cloned, _) = try await fixture.signIn(&key, tamper: tamper)
        #expect(cloned.status == .unauthorized && cloned.reason == "counter_regressed")
    }

    @Test("an unknown passkey is credential_unknown; a wrong origin in clientDataJSON origin_mismatch")
    func unknownAndOrigin() async throws {
        let fixture = try await ConsoleFixture()
        var stranger = Self.software()
        let (unknown, _) = try await fixture.signIn(&stranger)
        #expect(unknown.reason == "credential_unknown")
        var key = Self.software()
        _ = try await fixture.register(&key)
        var tamper = SoftwareAuthenticator.Tamper()
        tamper.origin = "http://localhost:9999"
        let (wrong, _) = try await fixture.signIn(&key, tamper: tamper)
        #expect(wrong.reason == "origin_mismatch")
    }

    @Test("idle for 15 minutes, the session is expired; used within, it lives on")
    func idleExpiry() async throws {
        let fixture = try await ConsoleFixture()
        var key = Self.software()
        _ = try await fixture.register(&key)
        let (_, browser) = try await fixture.signIn(&key)
        fixture.advance(seconds: 14 * 60)
        #expect(try await fixture.request(.get, "/console/whoami", browser: browser).status == .ok)
        fixture.advance(seconds: 14 * 60)
        #expect(try await fixture.request(.get, "/console/whoami", browser: browser).status == .ok)
        fixture.advance(seconds: 15 * 60)
        let expired = try await fixture.request(.get, "/console/whoami", browser: browser)
        #expect(expired.status == .unauthorized && expired.reason == "session_expired")
        let gone = try await fixture.request(.get, "/console/whoami", browser: browser)
        #expect(gone.reason == "session_missing")
    }

    @Test("a POST without the CSRF token is csrf_missing; with another csrf_mismatch; a form field works")
    func csrf() async throws {
        let fixture = try await ConsoleFixture()
        var key = Self.software()
        _ = try await fixture.register(&key)
        let (_, browser) = try await fixture.signIn(&key)
        var noToken = browser
        noToken.csrf = nil
        let missing = try await fixture.request(.post, "/console/auth/stepup/options", json: [:], browser: noToken)
        #expect(missing.status == .forbidden && missing.reason == "csrf_missing")
        var wrong = browser
        wrong.csrf = String(browser.csrf!.reversed())
        let mismatch = try await fixture.request(.post, "/console/auth/stepup/options", json: [:], browser: wrong)
        #expect(mismatch.status == .forbidden && mismatch.reason == "csrf_mismatch")
        let form = try await fixture.request(
            .post,
            "/console/auth/signout",
            browser: noToken,
            headers: [.contentType: "application/x-www-form-urlencoded"],
            body: "a=1&csrf=\(browser.csrf!)"
        )
        #expect(form.status == .ok, "\(form.text)")
    }

    @Test("a POST from another Origin is origin_mismatch, with or without a session")
    func originHeader() async throws {
        let fixture = try await ConsoleFixture()
        var key = Self.software()
        _ = try await fixture.register(&key)
        let (_, browser) = try await fixture.signIn(&key)
        var evil = browser
        evil.origin = "https://evil.example.org"
        let refused = try await fixture.request(.post, "/console/auth/signout", json: [:], browser: evil)
        #expect(refused.status == .forbidden && refused.reason == "origin_mismatch")
        let options = try await fixture.request(.post, "/console/auth/signin/options", json: [:], browser: evil)
        #expect(options.reason == "origin_mismatch")
        #expect(try await fixture.request(.get, "/console/whoami", browser: browser).status == .ok)
    }

    @Test("step-up is required 5 minutes after the last passkey use, and a step-up renews it")
    func stepUpWindow() async throws {
        let fixture = try await ConsoleFixture()
        var key = Self.software()
        _ = try await fixture.register(&key)
        let (_, browser) = try await fixture.signIn(&key)
        var session = try await fixture.auth.session(try Self.cookieRequest(browser))
        try fixture.auth.requireStepUp(session)
        fixture.advance(seconds: 5 * 60)
        session = try await fixture.auth.session(try Self.cookieRequest(browser))
        #expect(throws: ConsoleAuthError.stepUpRequired()) { try fixture.auth.requireStepUp(session) }
        let who = try await fixture.request(.get, "/console/whoami", browser: browser)
        #expect(who.json["stepUpAgeSeconds"] as? Int == 300)
        #expect(try await fixture.stepUp(&key, browser: browser).status == .ok)
        session = try await fixture.auth.session(try Self.cookieRequest(browser))
        try fixture.auth.requireStepUp(session)
    }

    @Test("a step-up with another user's passkey is credential_user_mismatch")
    func stepUpOtherUser() async throws {
        let fixture = try await ConsoleFixture(users: [("olga", .operator), ("ivan", .incident)])
        var olga = Self.software()
        var ivan = Self.software()
        _ = try await fixture.register(&olga)
        _ = try await fixture.register(&ivan, user: "ivan")
        let (_, browser) = try await fixture.signIn(&olga)
        let options = try await fixture.request(.post, "/console/auth/stepup/options", json: [:], browser: browser)
        let challenge = (options.json["publicKey"] as! [String: Any])["challenge"] as! String
        let answer = try await fixture.request(
            .post,
            "/console/auth/stepup/finish",
            json: ["credential": ivan.assert(challenge: challenge).json],
            browser: browser
        )
        #expect(answer.reason == "credential_user_mismatch")
        #expect(try await fixture.auditKinds().contains("console.stepup_failed"))
    }

    @Test("after sign-out the old cookie and CSRF token are refused")
    func signOutThenReuse() async throws {
        let fixture = try await ConsoleFixture()
        var key = Self.software()
        _ = try await fixture.register(&key)
        let (_, browser) = try await fixture.signIn(&key)
        #expect(try await fixture.request(.post, "/console/auth/signout", json: [:], browser: browser).status == .ok)
        let reuse = try await fixture.request(.post, "/console/auth/stepup/options", json: [:], browser: browser)
        #expect(reuse.status == .unauthorized && reuse.reason == "session_missing")
    }

    @Test("a disabled account's session ends at its next use; it cannot sign in again")
    func disabledAccount() async throws {
        let fixture = try await ConsoleFixture()
        var key = Self.software()
        _ = try await fixture.register(&key)
        let (_, browser) = try await fixture.signIn(&key)
        _ = try await fixture.accounts.disable(
            id: "olga",
            by: try AuditActor(id: "local-admin", role: "admin"),
            now: .init(millisecondsSinceEpoch: fixture.now),
            audit: fixture.audit
        )
        let refused = try await fixture.request(.get, "/console/whoami", browser: browser)
        #expect(refused.status == .unauthorized && refused.reason == "account_disabled")
        #expect(try await fixture.request(.get, "/console/whoami", browser: browser).reason == "session_missing")
        let (again, _) = try await fixture.signIn(&key)
        #expect(again.status == .unauthorized && again.reason == "account_disabled")
    }

    @Test("the pages and passkeys.js come from the module's bundle")
    func pages() async throws {
        let fixture = try await ConsoleFixture()
        let token = try await fixture.invite()
        let invite = try await fixture.request(.get, "/console/invite/\(token)")
        #expect(
            invite.status == .ok && invite.text.contains("data-invitation=\"\(token)\"") && invite.text.contains("olga")
        )
        #expect(invite.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
        #expect(try await fixture.request(.get, "/console/invite/nope").status == .notFound)
        let signin = try await fixture.request(.get, "/console/signin")
        #expect(signin.status == .ok && signin.text.contains("/console/static/passkeys.js"))
        let script = try await fixture.request(.get, "/console/static/passkeys.js")
        #expect(script.status == .ok && script.text.contains("navigator.credentials.create"))
    }

    static func cookieRequest(_ browser: ConsoleFixture.Browser) throws -> Request {
        var head = HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/console/whoami")
        head.headerFields[.cookie] = "\(ConsoleAuth.cookieName)=\(browser.cookie!)"
        return Request(head: head, body: .init(buffer: .init()))
    }
}

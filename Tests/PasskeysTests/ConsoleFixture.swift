import AccessTokens
import Accounts
import AuditLog
import ConsoleAuth
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MedTunnelTestSupport
import PasskeyStore
import Passkeys
import SafetyPolicy
import Synchronization
import Testing
import TherapyModel

/// A console over fresh stores in a temporary state directory, with a clock the test moves and a
/// software authenticator; drives the routes through Hummingbird's test client.
final class ConsoleFixture: Sendable {
    static let origin = "http://localhost:8080"
    static let start: Int64 = 1_800_000_000_000

    let directory: String
    let audit: AuditLog
    let accounts: AccountStore
    let passkeys: PasskeyStore
    let revocations: TokenRevocationStore
    let authenticator: Authenticator
    let auth: ConsoleAuth
    let clock = TestClock(ConsoleFixture.start)

    init(users: [(String, ActorRole)] = [("olga", .operator)]) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("medtunnel-console-\(UUID())").path
        audit = try await AuditLog.open(stateDirectory: directory)
        accounts = try AccountStore.open(stateDirectory: directory)
        let admin = try AuditActor(id: "local-admin", role: "admin")
        for (id, role) in users {
            _ = try await accounts.add(
                id: id,
                role: role,
                attributes: try AccountAttributes([], for: role),
                by: admin,
                now: Timestamp(millisecondsSinceEpoch: Self.start),
                audit: audit
            )
        }
        passkeys = try PasskeyStore.open(stateDirectory: directory)
        revocations = try TokenRevocationStore.open(stateDirectory: directory)
        let key = TokenSigningKey.generate()
        authenticator = try await Authenticator(key: key, accounts: accounts, revocations: revocations)
        let clock = self.clock
        auth = try ConsoleAuth(
            configuration: .init(
                relyingParty: try RelyingParty(origin: Self.origin),
                secureCookie: false,
                now: { clock.now }
            ),
            passkeys: passkeys,
            accounts: accounts,
            issuer: try await TokenIssuer(key: key, accounts: accounts),
            revocations: revocations,
            audit: audit
        )
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    var now: Int64 { clock.now }
    func advance(seconds: Int64) { clock.advance(milliseconds: seconds * 1000) }

    func invite(_ user: String = "olga") async throws -> String {
        var generator = SystemRandomNumberGenerator()
        let token = PasskeyStore.newToken(using: &generator)
        try await passkeys.addInvitation(token: token, userID: user, nowMilliseconds: now)
        return token
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        auth.register(on: router)
        return router
    }

    /// One HTTP answer: status, headers, JSON body (or text).
    struct Answer {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: [UInt8]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:] }
        var reason: String? { json["reason"] as? String }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// The browser's state: the session cookie and CSRF token it holds.
    struct Browser {
        var cookie: String?
        var csrf: String?
        var origin: String? = ConsoleFixture.origin
    }

    func request(
        _ method: HTTPRequest.Method,
        _ path: String,
        json: [String: Any]? = nil,
        browser: Browser = Browser(),
        headers extra: HTTPFields = [:],
        body raw: String? = nil
    ) async throws -> Answer {
        var headers = extra
        if let cookie = browser.cookie { headers[.cookie] = "\(ConsoleAuth.cookieName)=\(cookie)" }
        if let csrf = browser.csrf { headers[HTTPField.Name("X-CSRF-Token")!] = csrf }
        if let origin = browser.origin { headers[.origin] = origin }
        var body: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        } else if let raw {
            body = ByteBuffer(string: raw)
        }
        let app = Application(router: router())
        let (sentHeaders, sentBody) = (headers, body)
        return try await app.test(.router) { client in
            try await client.execute(uri: path, method: method, headers: sentHeaders, body: sentBody) { response in
                Answer(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
            }
        }
    }

    /// Registers a passkey for `user` through the routes.
    func register(_ software: inout SoftwareAuthenticator, user: String = "olga") async throws -> Answer {
        let token = try await invite(user)
        let options = try await request(.post, "/console/auth/register/options", json: ["invitation": token])
        #expect(options.status == .ok, "\(options.text)")
        let publicKey = options.json["publicKey"] as! [String: Any]
        let handle = SoftwareAuthenticator.fromBase64url((publicKey["user"] as! [String: Any])["id"] as! String)
        let made = software.register(challenge: publicKey["challenge"] as! String, userHandle: handle)
        return try await request(
            .post,
            "/console/auth/register/finish",
            json: ["invitation": token, "credential": software.registrationJSON(made)]
        )
    }

    /// Signs in with `software`; returns the answer and the browser holding the session.
    func signIn(
        _ software: inout SoftwareAuthenticator,
        tamper: SoftwareAuthenticator.Tamper = .init()
    ) async throws -> (Answer, Browser) {
        let options = try await request(.post, "/console/auth/signin/options", json: [:])
        let challenge = (options.json["publicKey"] as! [String: Any])["challenge"] as! String
        let assertion = software.assert(challenge: challenge, tamper: tamper)
        let answer = try await request(.post, "/console/auth/signin/finish", json: ["credential": assertion.json])
        var browser = Browser()
        if let setCookie = answer.headers[.setCookie] {
            browser.cookie = setCookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1).last.map(
                String.init
            )
        }
        browser.csrf = answer.json["csrfToken"] as? String
        return (answer, browser)
    }

    func stepUp(_ software: inout SoftwareAuthenticator, browser: Browser) async throws -> Answer {
        let options = try await request(.post, "/console/auth/stepup/options", json: [:], browser: browser)
        guard options.status == .ok else { return options }
        let challenge = (options.json["publicKey"] as! [String: Any])["challenge"] as! String
        let assertion = software.assert(challenge: challenge)
        return try await request(
            .post,
            "/console/auth/stepup/finish",
            json: ["credential": assertion.json],
            browser: browser
        )
    }

    func auditEntries() async throws -> [AuditEntry] {
        try await audit.entries(in: 0..<(try await audit.store.size()))
    }

    func auditKinds() async throws -> [String] { try await auditEntries().map(\.event.kind.rawValue) }

    func auditPayloads(_ kind: AuditKind) async throws -> [String] {
        try await auditEntries().filter { $0.event.kind == kind }.map {
            String(decoding: $0.event.payload, as: UTF8.self)
        }
    }
}

/// Milliseconds the test moves by hand.
final class TestClock: Sendable {
    private let value: Mutex<Int64>
    init(_ start: Int64) { value = Mutex(start) }
    var now: Int64 { value.withLock { $0 } }
    func advance(milliseconds: Int64) { value.withLock { $0 += milliseconds } }
}

public import AccessTokens
public import Accounts
public import AuditLog
import Foundation
import HTTPTypes
public import Hummingbird
public import PasskeyStore
public import Passkeys
import Synchronization

/// The web console's security core: passkey registration (by invitation) and sign-in, the
/// sessions behind the `mt_session` cookie, CSRF and Origin checks, and step-up before risky
/// actions. docs/console-auth.md has the ceremonies and every error.
///
/// A console route:
///
///     router.get("/console/pumps") { request, _ in
///         let session = try await auth.session(request)           // GET: cookie only
///         … pipeline.someRead(authorization: session.authorization, …)
///     }
///     router.post("/console/changes/:id/approve") { request, _ in
///         var request = request
///         let session = try await auth.postSession(&request)      // POST: + Origin, CSRF
///         try auth.requireStepUp(session)                         // risky: passkey in the last 5 min
///         … pipeline.approve(authorization: session.authorization, …)
///     }
public struct ConsoleAuth: Sendable {
    public static let cookieName = "mt_session"
    public static let csrfHeader = "X-CSRF-Token"
    public static let csrfFormField = "csrf"
    /// What the browser is given for a ceremony (the challenge lives as long).
    public static let ceremonyTimeoutMilliseconds = Int(ChallengeTable.lifetimeMilliseconds)
    static let maximumBodyBytes = 64 * 1024

    public struct Configuration: Sendable {
        /// Set when the listener's address is known (``bind(_:)``) if not here.
        public var relyingParty: RelyingParty?
        /// `Secure` on the cookie: the listener speaks TLS.
        public var secureCookie: Bool
        /// Milliseconds since 1970; tests move it.
        public var now: @Sendable () -> Int64
        /// How recent a passkey assertion must be for a risky action (five minutes by default).
        public var stepUpWindowMilliseconds: Int64

        public init(
            relyingParty: RelyingParty?,
            secureCookie: Bool,
            stepUpWindowMilliseconds: Int64 = ConsoleSessions.stepUpWindowMilliseconds,
            now: @escaping @Sendable () -> Int64 = ConsoleAuth.wallClock
        ) {
            self.relyingParty = relyingParty
            self.secureCookie = secureCookie
            self.stepUpWindowMilliseconds = stepUpWindowMilliseconds
            self.now = now
        }
    }

    public static let wallClock: @Sendable () -> Int64 = {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    public let sessions: ConsoleSessions
    public let passkeys: PasskeyStore
    let accounts: AccountStore
    let audit: AuditLog
    let challenges = ChallengeStore()
    let pages: ConsolePages
    let secureCookie: Bool
    public let now: @Sendable () -> Int64
    public let stepUpWindowMilliseconds: Int64
    private let party: RelyingPartyCell

    public init(
        configuration: Configuration,
        passkeys: PasskeyStore,
        accounts: AccountStore,
        issuer: TokenIssuer,
        revocations: TokenRevocationStore?,
        audit: AuditLog
    ) throws {
        self.passkeys = passkeys
        self.accounts = accounts
        self.audit = audit
        self.secureCookie = configuration.secureCookie
        self.now = configuration.now
        self.stepUpWindowMilliseconds = configuration.stepUpWindowMilliseconds
        self.party = RelyingPartyCell(configuration.relyingParty)
        self.sessions = ConsoleSessions(issuer: issuer, accounts: accounts, revocations: revocations, audit: audit)
        self.pages = try ConsolePages.load()
    }

    /// The console of a gateway's state directory: its passkeys, accounts, token key and
    /// revocations, over the gateway's audit log.
    public static func open(
        stateDirectory: String,
        audit: AuditLog,
        configuration: Configuration
    ) async throws -> ConsoleAuth {
        let accounts = try await AccountStore.forStateDirectory(stateDirectory)
        let key = try TokenSigningKey.load(stateDirectory: stateDirectory)
        return try ConsoleAuth(
            configuration: configuration,
            passkeys: try await PasskeyStore.forStateDirectory(stateDirectory),
            accounts: accounts,
            issuer: try await TokenIssuer(key: key, accounts: accounts),
            revocations: try await TokenRevocationStore.forStateDirectory(stateDirectory),
            audit: audit
        )
    }

    /// Sets the relying party once the listener's port is known (origin defaulted from it).
    public func bind(_ relyingParty: RelyingParty) { party.set(relyingParty) }

    public var relyingParty: RelyingParty? { party.get() }

    func requireRelyingParty() throws(ConsoleAuthError) -> RelyingParty {
        guard let rp = party.get() else {
            throw ConsoleAuthError(.serviceUnavailable, "unavailable", "the console is starting; retry")
        }
        return rp
    }

    // MARK: Sessions for console routes

    /// The session of a request (the `mt_session` cookie): `session_missing`, `session_expired`,
    /// `account_disabled`. Enough for reading; a POST needs ``postSession(_:)``.
    public func session(_ request: Request) async throws(ConsoleAuthError) -> ConsoleSession {
        let session = try await sessions.resume(id: request.cookies[Self.cookieName]?.value, nowMilliseconds: now())
        RequestIdentity.record(userID: session.userID)
        return session
    }

    /// The session of a POST, after its `Origin` (if sent, exactly the console's) and its CSRF
    /// token (header `X-CSRF-Token`, or form field `csrf` of an urlencoded form, compared in
    /// constant time). Reads the body of a form, which stays readable for the route.
    public func postSession(_ request: inout Request) async throws(ConsoleAuthError) -> ConsoleSession {
        try checkOrigin(request)
        let session = try await self.session(request)
        var sent = request.headers[HTTPField.Name(Self.csrfHeader)!]
        if sent == nil, request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true {
            sent = try await formField(Self.csrfFormField, of: &request)
        }
        try Self.checkCSRF(sent, expected: session.csrfToken)
        return session
    }

    /// `csrf_missing` or `csrf_mismatch` unless `sent` is the session's token (constant time).
    public static func checkCSRF(_ sent: String?, expected: String) throws(ConsoleAuthError) {
        guard let sent, !sent.isEmpty else { throw ConsoleAuthError.csrfMissing() }
        guard ConstantTime.equal(sent, expected) else { throw ConsoleAuthError.csrfMismatch() }
    }

    /// `step_up_required` unless the session's passkey was used in the last 5 minutes. Call it
    /// before approving a change, setting a prescription, starting, lifting or confirming a lockout.
    public func requireStepUp(_ session: ConsoleSession) throws(ConsoleAuthError) {
        try ConsoleSessions.requireStepUp(session, nowMilliseconds: now(), windowMilliseconds: stepUpWindowMilliseconds)
    }

    /// `origin_mismatch` for an `Origin` header that is not the console's. Browsers send it with
    /// every POST; a client without one (curl) is judged by its CSRF token alone.
    public func checkOrigin(_ request: Request) throws(ConsoleAuthError) {
        guard let origin = request.headers[.origin] else { return }
        let rp = try requireRelyingParty()
        guard origin == rp.origin else { throw ConsoleAuthError.originMismatch(origin, expected: rp.origin) }
    }

    private func formField(_ name: String, of request: inout Request) async throws(ConsoleAuthError) -> String? {
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maximumBodyBytes)
        } catch {
            throw ConsoleAuthError.invalidInput("the form is over \(Self.maximumBodyBytes) bytes")
        }
        let text = String(decoding: body.readableBytesView, as: UTF8.self)
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    /// The session cookie: HttpOnly, SameSite=Strict, Path=/console, Secure on TLS.
    func sessionCookie(_ id: String) -> Cookie {
        Cookie(
            name: Self.cookieName,
            value: id,
            path: "/console",
            secure: secureCookie,
            httpOnly: true,
            sameSite: .strict
        )
    }

    func clearedCookie() -> Cookie {
        Cookie(
            name: Self.cookieName,
            value: "",
            maxAge: 0,
            path: "/console",
            secure: secureCookie,
            httpOnly: true,
            sameSite: .strict
        )
    }
}

/// The relying party, set at start or once the listener is bound.
final class RelyingPartyCell: Sendable {
    private let value: Mutex<RelyingParty?>
    init(_ initial: RelyingParty?) { value = Mutex(initial) }
    func get() -> RelyingParty? { value.withLock { $0 } }
    func set(_ new: RelyingParty) { value.withLock { $0 = new } }
}

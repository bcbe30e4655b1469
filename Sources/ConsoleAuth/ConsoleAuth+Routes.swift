import Accounts
import AuditLog
import Crypto
import Foundation
import HTTPTypes
public import Hummingbird
import PasskeyStore
import Passkeys

/// The routes under `/console` this module owns:
///
/// | route | needs | answer |
/// |---|---|---|
/// | `POST /console/auth/register/options` | `{"invitation"}` | creation options |
/// | `POST /console/auth/register/finish` | invitation + attestation | `{"registered", "user"}` |
/// | `POST /console/auth/signin/options` | nothing | request options (no allowCredentials) |
/// | `POST /console/auth/signin/finish` | an assertion | `{"user", "role", "csrfToken"}` + cookie |
/// | `POST /console/auth/stepup/options` | session + CSRF | request options (the user's passkeys) |
/// | `POST /console/auth/stepup/finish` | session + CSRF + assertion | `{"stepUpAgeSeconds": 0}` |
/// | `POST /console/auth/signout` | session + CSRF | `{"signedOut": true}`, cookie cleared |
/// | `GET /console/whoami` | session | `{"user", "role", "stepUpAgeSeconds", "csrfToken"}` |
/// | `GET /console/invite/{token}`, `GET /console/signin` | — | the pages |
/// | `GET /console/static/passkeys.js` | — | the script |
///
/// Every POST, with or without a session, is refused when its `Origin` is not the console's.
extension ConsoleAuth {
    public func register<Context: RequestContext>(on router: Router<Context>) {
        let console = router.group("console")
        console.add(middleware: ConsoleErrorMiddleware<Context>())
        console.post("auth/register/options") { request, _ in try await self.registrationOptions(request) }
        console.post("auth/register/finish") { request, _ in try await self.registrationFinish(request) }
        console.post("auth/signin/options") { request, _ in try await self.signInOptions(request) }
        console.post("auth/signin/finish") { request, _ in try await self.signInFinish(request) }
        console.post("auth/stepup/options") { request, _ in try await self.stepUpOptions(request) }
        console.post("auth/stepup/finish") { request, _ in try await self.stepUpFinish(request) }
        console.post("auth/signout") { request, _ in try await self.signOut(request) }
        console.get("whoami") { request, _ in
            let session = try await self.session(request)
            return Self.json(
                WebAuthnJSON.WhoAmI(
                    user: session.userID,
                    role: session.role.rawValue,
                    stepUpAgeSeconds: session.stepUpAgeSeconds(nowMilliseconds: self.now()),
                    csrfToken: session.csrfToken
                )
            )
        }
        console.get("invite/:token") { _, context in
            try await self.invitePage(token: context.parameters.require("token"))
        }
        console.get("signin") { _, _ in self.page("signin", [:], status: .ok) }
        console.get("static/passkeys.js") { _, _ in
            Response(
                status: .ok,
                headers: [
                    .contentType: "text/javascript; charset=utf-8", .cacheControl: "no-cache",
                    HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: self.pages.script))
            )
        }
    }

    // MARK: Registration

    func registrationOptions(_ request: Request) async throws -> Response {
        try checkOrigin(request)
        let rp = try requireRelyingParty()
        let body = try await Self.decode(WebAuthnJSON.InvitationRequest.self, request)
        let now = now()
        let invitation = try await passkeys.usableInvitation(token: body.invitation, nowMilliseconds: now)
        let account = try await enabledAccount(invitation.userID)
        let handle = try await passkeys.userHandle(
            of: account.id,
            candidate: Self.randomBytes(PasskeyStore.userHandleSize)
        )
        let existing = try await passkeys.credentials(ofUser: account.id)
        let challenge = await challenges.issue(.registration, binding: invitation.reference, nowMilliseconds: now)
        return Self.json(
            WebAuthnJSON.Options(
                publicKey: WebAuthnJSON.CreationOptions(
                    challenge: challenge.text,
                    rp: .init(id: rp.id, name: rp.name),
                    user: .init(id: Base64URLText.encode(handle), name: account.id, displayName: account.id),
                    pubKeyCredParams: [.init(alg: Int(COSEKey.algorithmES256))],
                    timeout: Self.ceremonyTimeoutMilliseconds,
                    authenticatorSelection: .init(),
                    excludeCredentials: existing.map { .init(id: Base64URLText.encode($0.credentialID)) }
                )
            )
        )
    }

    func registrationFinish(_ request: Request) async throws -> Response {
        try checkOrigin(request)
        let rp = try requireRelyingParty()
        let body = try await Self.decode(WebAuthnJSON.RegistrationFinish.self, request)
        let now = now()
        let invitation = try await passkeys.usableInvitation(token: body.invitation, nowMilliseconds: now)
        do {
            let response = body.credential.response
            let clientDataJSON = try Self.binary(response.clientDataJSON, "clientDataJSON", .clientDataMalformed)
            let clientData = try ClientData(json: clientDataJSON)
            let challenge = try await challenges.consume(
                clientData.challenge,
                ceremony: .registration,
                binding: invitation.reference,
                nowMilliseconds: now
            )
            let account = try await enabledAccount(invitation.userID)
            let credential = try RegistrationCeremony.verify(
                .init(
                    clientDataJSON: clientDataJSON,
                    attestationObject: try Self.binary(response.attestationObject, "attestationObject", .cborMalformed)
                ),
                challenge: challenge.bytes,
                relyingParty: rp
            )
            guard Base64URLText.decode(body.credential.id) == credential.credentialID else {
                throw PasskeyError(.credentialIDInvalid, "the credential's id is not the one in its authenticator data")
            }
            guard try await passkeys.credential(id: credential.credentialID) == nil else {
                throw PasskeyError(.credentialExists, "this passkey is registered already; sign in with it")
            }
            // Logged before it is stored: a passkey never works without its entry.
            try await ConsoleAudit.record(
                .passkeyRegistered,
                audit: audit,
                actor: (account.id, account.role.rawValue),
                nowMilliseconds: now,
                fields: [
                    "user": account.id, "credential": Self.reference(credential.credentialID),
                    "invitation": invitation.reference,
                ]
            )
            try await passkeys.register(
                credential,
                userID: account.id,
                invitationToken: body.invitation,
                nowMilliseconds: now
            )
            return Self.json(WebAuthnJSON.Registered(registered: true, user: account.id))
        } catch {
            await recordFailure(.consoleSignInFailed, error, user: invitation.userID, now, ["ceremony": "registration"])
            throw error
        }
    }

    // MARK: Sign-in

    func signInOptions(_ request: Request) async throws -> Response {
        try checkOrigin(request)
        let rp = try requireRelyingParty()
        let challenge = await challenges.issue(.signIn, binding: nil, nowMilliseconds: now())
        return Self.json(
            WebAuthnJSON.Options(
                publicKey: WebAuthnJSON.RequestOptions(
                    challenge: challenge.text,
                    rpId: rp.id,
                    timeout: Self.ceremonyTimeoutMilliseconds,
                    allowCredentials: []
                )
            )
        )
    }

    func signInFinish(_ request: Request) async throws -> Response {
        try checkOrigin(request)
        let rp = try requireRelyingParty()
        let body = try await Self.decode(WebAuthnJSON.AssertionFinish.self, request)
        let now = now()
        var user: String?
        do {
            let credential = try await verifiedAssertion(
                body.credential,
                ceremony: .signIn,
                binding: nil,
                expectedUser: .discoverable,
                relyingParty: rp,
                now: now
            ) { found in user = found.userID }
            let account = try await enabledAccount(credential.userID)
            let (id, session) = try await sessions.open(account: account, nowMilliseconds: now)
            do {
                try await ConsoleAudit.record(
                    .consoleSignIn,
                    audit: audit,
                    actor: (account.id, account.role.rawValue),
                    nowMilliseconds: now,
                    fields: [
                        "user": account.id, "session": session.reference,
                        "credential": Self.reference(credential.credentialID),
                    ]
                )
            } catch {
                // No session without its entry.
                await sessions.close(id: id, nowMilliseconds: now)
                throw error
            }
            var answer = Self.json(
                WebAuthnJSON.SignedIn(user: account.id, role: account.role.rawValue, csrfToken: session.csrfToken)
            )
            answer.setCookie(sessionCookie(id))
            return answer
        } catch {
            await recordFailure(.consoleSignInFailed, error, user: user, now, ["ceremony": "signin"])
            throw error
        }
    }

    // MARK: Step-up

    func stepUpOptions(_ request: Request) async throws -> Response {
        var request = request
        let session = try await postSession(&request)
        let rp = try requireRelyingParty()
        let credentials = try await passkeys.credentials(ofUser: session.userID)
        let challenge = await challenges.issue(.stepUp, binding: session.reference, nowMilliseconds: now())
        return Self.json(
            WebAuthnJSON.Options(
                publicKey: WebAuthnJSON.RequestOptions(
                    challenge: challenge.text,
                    rpId: rp.id,
                    timeout: Self.ceremonyTimeoutMilliseconds,
                    allowCredentials: credentials.map { .init(id: Base64URLText.encode($0.credentialID)) }
                )
            )
        )
    }

    func stepUpFinish(_ request: Request) async throws -> Response {
        var request = request
        let session = try await postSession(&request)
        let rp = try requireRelyingParty()
        let body = try await Self.decode(WebAuthnJSON.AssertionFinish.self, request)
        let now = now()
        do {
            let credential = try await verifiedAssertion(
                body.credential,
                ceremony: .stepUp,
                binding: session.reference,
                expectedUser: .user(session.userID),
                relyingParty: rp,
                now: now
            )
            try await sessions.record(
                .consoleStepUp,
                session,
                now,
                ["credential": Self.reference(credential.credentialID)]
            )
            guard let id = request.cookies[Self.cookieName]?.value,
                let updated = await sessions.markStepUp(id: id, nowMilliseconds: now)
            else { throw ConsoleAuthError.sessionExpired("the session ended") }
            return Self.json(WebAuthnJSON.SteppedUp(stepUpAgeSeconds: updated.stepUpAgeSeconds(nowMilliseconds: now)))
        } catch {
            await recordFailure(
                .consoleStepUpFailed,
                error,
                user: session.userID,
                now,
                ["ceremony": "stepup", "session": session.reference]
            )
            throw error
        }
    }

    /// One assertion: the challenge it names used up (for `ceremony` and `binding`), the
    /// stored credential found (`found` sees it, before the checks), AssertionCeremony's
    /// checks, and the new counter stored.
    func verifiedAssertion(
        _ json: WebAuthnJSON.Credential<WebAuthnJSON.AssertionResponse>,
        ceremony: ChallengeTable.Ceremony,
        binding: String?,
        expectedUser: AssertionCeremony.ExpectedUser,
        relyingParty rp: RelyingParty,
        now: Int64,
        found: (PasskeyCredential) -> Void = { _ in }
    ) async throws -> PasskeyCredential {
        let response = try Self.assertion(json)
        let clientData = try ClientData(json: response.clientDataJSON)
        let challenge = try await challenges.consume(
            clientData.challenge,
            ceremony: ceremony,
            binding: binding,
            nowMilliseconds: now
        )
        guard let credential = try await passkeys.credential(id: response.credentialID) else {
            throw PasskeyError(.credentialUnknown, "this passkey is not registered here; register it by invitation")
        }
        found(credential)
        let count = try AssertionCeremony.verify(
            response,
            credential: credential,
            expectedUser: expectedUser,
            challenge: challenge.bytes,
            relyingParty: rp
        )
        try await passkeys.recordAssertion(
            credentialID: credential.credentialID,
            signCount: count,
            nowMilliseconds: now
        )
        return credential
    }

    // MARK: Sign-out

    func signOut(_ request: Request) async throws -> Response {
        var request = request
        let session = try await postSession(&request)
        let now = now()
        if let id = request.cookies[Self.cookieName]?.value {
            await sessions.close(id: id, nowMilliseconds: now)
        }
        try await sessions.record(.consoleSignOut, session, now, [:])
        var answer = Self.json(WebAuthnJSON.SignedOut(signedOut: true))
        answer.setCookie(clearedCookie())
        return answer
    }

    // MARK: Pages

    func invitePage(token: String) async throws -> Response {
        do {
            let invitation = try await passkeys.usableInvitation(token: token, nowMilliseconds: now())
            let expires = Date(timeIntervalSince1970: Double(invitation.expiresAtMilliseconds / 1000))
            return page(
                "invite",
                ["token": token, "user": invitation.userID, "expires": expires.ISO8601Format()],
                status: .ok
            )
        } catch {
            let status = ConsoleAuthError(error).status
            return page("invite", ["error": ["message": error.reason]], status: status)
        }
    }

    func page(_ name: String, _ values: [String: Any], status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        for (name, value) in ConsolePages.htmlHeaders { headers[HTTPField.Name(name)!] = value }
        return Response(
            status: status,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: pages.render(name, values)))
        )
    }

    // MARK: Helpers

    func enabledAccount(_ id: String) async throws -> Account {
        guard let account = try await accounts.account(id: id) else {
            throw PasskeyError(.credentialUnknown, "the passkey's account '\(id)' does not exist")
        }
        guard !account.isDisabled else { throw ConsoleAuthError.accountDisabled() }
        return account
    }

    /// A refused ceremony's entry: the error code, the user when known, never the input.
    func recordFailure(
        _ kind: AuditKind,
        _ error: any Error,
        user: String?,
        _ now: Int64,
        _ fields: [String: String]
    ) async {
        let code =
            (error as? PasskeyError)?.code.rawValue ?? (error as? ConsoleAuthError)?.reason ?? "internal"
        var payload = fields
        payload["reason"] = code
        if let user { payload["user"] = user }
        try? await ConsoleAudit.record(
            kind,
            audit: audit,
            actor: (user ?? "unknown", user == nil ? "anonymous" : "console"),
            nowMilliseconds: now,
            fields: payload
        )
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maximumBodyBytes)
        } catch {
            throw ConsoleAuthError.invalidInput("the body is over \(maximumBodyBytes) bytes")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw ConsoleAuthError.invalidInput("the body is not the JSON this route takes (docs/console-auth.md)")
        }
    }

    static func binary(_ text: String, _ field: String, _ code: PasskeyError.Code) throws(PasskeyError) -> [UInt8] {
        guard let bytes = Base64URLText.decode(text) else {
            throw PasskeyError(code, "\(field) is not base64url")
        }
        return bytes
    }

    static func assertion(
        _ credential: WebAuthnJSON.Credential<WebAuthnJSON.AssertionResponse>
    ) throws(PasskeyError) -> AssertionCeremony.Response {
        guard credential.type == "public-key", let id = Base64URLText.decode(credential.id), !id.isEmpty else {
            throw PasskeyError(.credentialUnknown, "the credential is not a public-key credential with a base64url id")
        }
        let response = credential.response
        var handle: [UInt8]?
        if let text = response.userHandle, !text.isEmpty {
            handle = try binary(text, "userHandle", .clientDataMalformed)
        }
        return AssertionCeremony.Response(
            credentialID: id,
            clientDataJSON: try binary(response.clientDataJSON, "clientDataJSON", .clientDataMalformed),
            authenticatorData: try binary(response.authenticatorData, "authenticatorData", .authenticatorDataMalformed),
            signature: try binary(response.signature, "signature", .signatureInvalid),
            userHandle: handle
        )
    }

    static func reference(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
}

/// Answers every failure under `/console` in the API's error shape: a refused ceremony with its
/// code, anything unexpected as `internal` (logged, no details to the client).
struct ConsoleErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ConsoleAuthError {
            throw error
        } catch let error as PasskeyError {
            throw ConsoleAuthError(error)
        } catch let error as any HTTPResponseError {
            throw ConsoleAuthError(
                error.status,
                error.status == .notFound ? "not_found" : "http_error",
                "\(request.method) \(request.uri.path): \(error.status.reasonPhrase)"
            )
        } catch {
            context.logger.error("console request failed", metadata: ["error": "\(error)"])
            throw ConsoleAuthError(
                .internalServerError,
                "internal",
                "the gateway failed to answer; the reason is in its log"
            )
        }
    }
}

import AccessTokens
import AuditLog
public import CommandPipeline
import ConsoleAuth
import Foundation
import HTTPTypes
public import Hummingbird
import Logging
public import OperatorAPI

/// The operators' web console under `/console`: server-rendered pages over the same pipeline,
/// registries and audit log as the JSON API, with the viewer's own authority. Every page and
/// action goes through ``ConsoleSignIn`` (sessions, CSRF, step-up); every refusal is the
/// pipeline's own, so the console can do nothing the API would not let the same person do.
///
/// | page | what it shows |
/// |---|---|
/// | `/console` | pumps connected, phones, open alerts, lockouts in force, held changes, checkpoint age |
/// | `/console/pumps`, `/console/pumps/{serial}` | pumps; one pump's state and its last 24 h as an SVG chart |
/// | `/console/changes`, `/console/changes/{id}` | the approval inbox (approve, reject); a request's history |
/// | `/console/audit`, `/console/audit/checkpoints` | search the trail, verify an entry in the browser; checkpoints |
/// | `/console/alerts`, `/console/lockouts`, `/console/lockouts/{id}`, `/console/phones` | incident work |
public struct ConsoleRoutes: Sendable {
    let api: OperatorAPI
    let pipeline: CommandPipeline
    let signIn: any ConsoleSignIn
    let templates: ConsoleTemplates
    let now: @Sendable () -> Int64

    static let logger = Logger(label: "medtunnel.console")

    public init(
        api: OperatorAPI,
        pipeline: CommandPipeline,
        signIn: any ConsoleSignIn,
        now: (@Sendable () -> Int64)? = nil
    ) throws {
        self.api = api
        self.pipeline = pipeline
        self.signIn = signIn
        self.templates = try ConsoleTemplates()
        self.now = now ?? { Int64(Date().timeIntervalSince1970 * 1000) }
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        for (name, file) in self.templates.statics {
            router.get("/console/static/\(name)") { _, _ in
                Response(
                    status: .ok,
                    headers: [
                        .contentType: file.contentType, .cacheControl: "no-cache",
                        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                    ],
                    body: .init(byteBuffer: ByteBuffer(string: file.body))
                )
            }
        }
        self.registerPumpPages(on: router)
        self.registerChangePages(on: router)
        self.registerAuditPages(on: router)
        self.registerIncidentPages(on: router)
    }

    // MARK: Rendering

    /// A page: the viewer, then the body template inside the layout. No session sends the
    /// browser to the sign-in page; any other refusal is shown as an error page with its status.
    func page(
        _ request: Request,
        nav: String,
        _ build: (ConsoleViewer) async throws -> (template: String, title: String, object: Any)
    ) async -> Response {
        let viewer: ConsoleViewer
        do {
            viewer = try await self.signIn.viewer(of: request)
        } catch {
            if let failure = ConsoleFailure(error), failure.status == 401 {
                return Self.redirect("/console/signin?next=\(Self.queryEscaped(request.uri.description))")
            }
            return self.errorPage(error, viewer: nil)
        }
        do {
            let (template, title, object) = try await build(viewer)
            let notice = request.uri.queryParameters["done"].map(String.init)
            return self.html(
                .ok,
                self.layout(
                    title: title,
                    nav: nav,
                    viewer: viewer,
                    notice: notice,
                    body: self.templates.render(template, object)
                )
            )
        } catch {
            return self.errorPage(error, viewer: viewer)
        }
    }

    /// A form action: session, CSRF (and step-up when asked), the action, then back to `next`
    /// with a notice; a refusal is an error page with the pipeline's status and reason.
    func action(
        _ request: Request,
        stepUp: Bool,
        _ perform: (ConsoleViewer, [String: String]) async throws -> (next: String, notice: String)
    ) async -> Response {
        var request = request
        var viewer: ConsoleViewer?
        do {
            let signedIn = try await self.signIn.viewer(of: request)
            viewer = signedIn
            let form = try await FormBody.decode(&request)
            try await self.signIn.checkPost(request, viewer: signedIn, formToken: form["csrf"])
            if stepUp { try await self.signIn.requireStepUp(request, viewer: signedIn) }
            let (next, notice) = try await perform(signedIn, form)
            let separator = next.contains("?") ? "&" : "?"
            return Self.redirect("\(next)\(separator)done=\(Self.queryEscaped(notice))")
        } catch {
            return self.errorPage(error, viewer: viewer)
        }
    }

    func layout(title: String, nav: String, viewer: ConsoleViewer?, notice: String?, body: String) -> String {
        var object: [String: Any] = [
            "title": title, "nav": [nav: true], "body": body, "csrf": viewer?.csrfToken ?? "",
        ]
        if let viewer { object["viewer"] = ["userID": viewer.userID, "role": viewer.role] }
        if let notice, !notice.isEmpty { object["notice"] = notice }
        return self.templates.render("layout", object)
    }

    func errorPage(_ error: any Error, viewer: ConsoleViewer?) -> Response {
        let failure =
            ConsoleFailure(error)
            ?? ConsoleFailure(
                status: 500,
                reason: "internal",
                message: "the gateway failed to answer; the reason is in its log"
            )
        if failure.status >= 500 {
            Self.logger.error("console request failed", metadata: ["error": "\(error)"])
        }
        let body = self.templates.render(
            "error",
            [
                "heading": failure.status == 403 ? "Not allowed" : "That did not work",
                "status": failure.status, "reason": failure.reason, "message": failure.message,
                "stepUp": failure.reason == "step_up_required",
            ] as [String: Any]
        )
        let status = HTTPResponse.Status(code: failure.status)
        return self.html(status, self.layout(title: "Error", nav: "", viewer: viewer, notice: nil, body: body))
    }

    func html(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: Self.pageHeaders, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Pages are never cached, framed, or allowed scripts but the console's own file.
    static let pageHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .cacheControl: "no-store",
        .contentSecurityPolicy:
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with a form
        // POST, and the Origin check then refuses the console's own forms.
        HTTPField.Name("Referrer-Policy")!: "same-origin",
    ]

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func queryEscaped(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// The authenticated user behind a viewer, for recording reads and scoping lists.
    func user(_ viewer: ConsoleViewer) async throws -> AuthenticatedUser {
        try await self.pipeline.authenticatedUser(viewer.authorization)
    }

    /// Records that the console showed `viewer` data of `pumps` (the same `access.read` entries
    /// the API's reads make).
    func recordRead(_ user: AuthenticatedUser, page: String, pumps: some Sequence<String> & Sendable) async {
        await self.api.access.reads?.record(
            reader: user.account.id,
            role: user.actor.role.rawValue,
            tokenID: user.tokenID,
            route: "GET \(page)",
            pumps: pumps
        )
    }
}

/// Any refusal as the console shows it: the status, stable reason and message the API would
/// have answered.
struct ConsoleFailure {
    let status: Int
    let reason: String
    let message: String

    init(status: Int, reason: String, message: String) {
        self.status = status
        self.reason = reason
        self.message = message
    }

    init?(_ error: any Error) {
        switch error {
        case let error as ChangeAPIError:
            self.init(status: error.status, reason: error.reason, message: error.message)
        case let error as APIError:
            self.init(status: Int(error.status.code), reason: error.reason, message: error.message)
        case let error as ConsoleAuthError:
            self.init(status: Int(error.status.code), reason: error.reason, message: error.message)
        case let error as ConsoleInputError:
            self.init(status: 400, reason: error.reason, message: error.message)
        case let error as HTTPError:
            self.init(status: Int(error.status.code), reason: "bad_request", message: error.body ?? "\(error.status)")
        case let error as any HTTPResponseError:
            self.init(status: Int(error.status.code), reason: "refused", message: "\(error)")
        default:
            return nil
        }
    }
}

/// A form or query value the console refuses, named.
struct ConsoleInputError: Error {
    let reason: String
    let message: String
}

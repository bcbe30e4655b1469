public import Hummingbird

/// Who is looking at a console page: a signed-in person, the bearer authorization the gateway's
/// pipeline knows them by (held server side, never sent to the browser), and their session's
/// CSRF token, which every form of the page carries back.
public struct ConsoleViewer: Sendable {
    public let userID: String
    public let role: String
    /// `Bearer …` for the pipeline's `authorization:` functions, so a console action is
    /// authorized, audited and refused exactly as the same call through the API would be.
    public let authorization: String
    public let csrfToken: String

    public init(userID: String, role: String, authorization: String, csrfToken: String) {
        self.userID = userID
        self.role = role
        self.authorization = authorization
        self.csrfToken = csrfToken
    }
}

/// The console's sessions: passkey sign-in, CSRF and step-up (adaptive security levels) are
/// theirs; the pages only ask.
public protocol ConsoleSignIn: Sendable {
    /// The signed-in viewer of `request`; throws an `HTTPResponseError` with status 401 when
    /// there is none (the page then sends the browser to the sign-in page).
    func viewer(of request: Request) async throws -> ConsoleViewer
    /// Checks a state-changing request: its CSRF token (`formToken` from a form field, else the
    /// `X-CSRF-Token` header) and its `Origin`.
    func checkPost(_ request: Request, viewer: ConsoleViewer, formToken: String?) async throws
    /// Throws 403 `step_up_required` unless the viewer confirmed with a passkey within the last
    /// five minutes: approving a change, prescribing, starting or lifting a lockout.
    func requireStepUp(_ request: Request, viewer: ConsoleViewer) async throws
}

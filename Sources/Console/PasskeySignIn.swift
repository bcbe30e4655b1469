public import ConsoleAuth
import HTTPTypes
public import Hummingbird

/// The console's pages signed in by passkey: ``ConsoleAuth``'s sessions (the `mt_session`
/// cookie), its CSRF token and Origin check, and its five-minute step-up.
public struct PasskeySignIn: ConsoleSignIn {
    let auth: ConsoleAuth

    public init(auth: ConsoleAuth) { self.auth = auth }

    public func viewer(of request: Request) async throws -> ConsoleViewer {
        let session = try await self.auth.session(request)
        return ConsoleViewer(
            userID: session.userID,
            role: session.role.rawValue,
            authorization: session.authorization,
            csrfToken: session.csrfToken
        )
    }

    public func checkPost(_ request: Request, viewer: ConsoleViewer, formToken: String?) async throws {
        try self.auth.checkOrigin(request)
        let sent = formToken ?? request.headers[HTTPField.Name(ConsoleAuth.csrfHeader)!]
        try ConsoleAuth.checkCSRF(sent, expected: viewer.csrfToken)
    }

    public func requireStepUp(_ request: Request, viewer: ConsoleViewer) async throws {
        try self.auth.requireStepUp(try await self.auth.session(request))
    }
}

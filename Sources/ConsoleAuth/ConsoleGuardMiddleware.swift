public import Hummingbird

/// Refuses every POST under `/console` that lacks the session's CSRF token or comes from
/// another origin (``ConsoleAuth/postSession(_:)``), except the ceremonies that start a
/// session (`/console/auth/signin/…`, `/console/auth/register/…`), which check the Origin
/// alone. Add it to the console's route group before its routes, so none can forget the check.
public struct ConsoleGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let auth: ConsoleAuth

    public init(auth: ConsoleAuth) { self.auth = auth }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.method == .post else { return try await next(request, context) }
        let path = request.uri.path
        if path.hasPrefix("/console/auth/signin/") || path.hasPrefix("/console/auth/register/") {
            try auth.checkOrigin(request)
        } else {
            var request = request
            _ = try await auth.postSession(&request)
            return try await next(request, context)
        }
        return try await next(request, context)
    }
}

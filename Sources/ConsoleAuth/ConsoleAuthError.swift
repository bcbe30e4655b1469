import AccessTokens
public import HTTPTypes
public import Hummingbird
public import Passkeys

/// A refusal of a console route, answered in the API's one error shape
/// `{"error": class, "reason": code, "message": text}` (`APIErrorResponse`).
///
/// | reason | status | when |
/// |---|---|---|
/// | `session_missing` | 401 | no `mt_session` cookie, or one this gateway does not know |
/// | `session_expired` | 401 | idle 15 minutes, older than 12 hours, or signed out |
/// | `account_disabled` | 401 | the session's account was disabled (the session ends) |
/// | `csrf_missing` | 403 | a POST without `X-CSRF-Token` or form field `csrf` |
/// | `csrf_mismatch` | 403 | a POST whose token is not the session's |
/// | `origin_mismatch` | 403 | an `Origin` header other than the console's origin |
/// | `step_up_required` | 403 | a risky action without a passkey confirmation in the last 5 minutes |
/// | a `PasskeyError` code | 400/401/404/409/410/503 | a ceremony or invitation refused (``init(_:)``) |
public struct ConsoleAuthError: HTTPResponseError, Equatable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let reason: String
    public let message: String

    public init(_ status: HTTPResponse.Status, _ reason: String, _ message: String) {
        self.status = status
        self.reason = reason
        self.message = message
    }

    public static func sessionMissing() -> ConsoleAuthError {
        ConsoleAuthError(.unauthorized, "session_missing", "not signed in; sign in at /console/signin")
    }

    public static func sessionExpired(_ why: String) -> ConsoleAuthError {
        ConsoleAuthError(.unauthorized, "session_expired", "\(why); sign in again at /console/signin")
    }

    public static func accountDisabled() -> ConsoleAuthError {
        ConsoleAuthError(.unauthorized, "account_disabled", "the account is disabled; the session has ended")
    }

    public static func csrfMissing() -> ConsoleAuthError {
        ConsoleAuthError(
            .forbidden,
            "csrf_missing",
            "the request carries no CSRF token; send the page's token as X-CSRF-Token or form field csrf"
        )
    }

    public static func csrfMismatch() -> ConsoleAuthError {
        ConsoleAuthError(.forbidden, "csrf_mismatch", "the CSRF token is not this session's; reload the page")
    }

    public static func originMismatch(_ origin: String, expected: String) -> ConsoleAuthError {
        ConsoleAuthError(
            .forbidden,
            "origin_mismatch",
            "the request comes from '\(origin.prefix(100))', not \(expected); use the console at \(expected)"
        )
    }

    public static func stepUpRequired() -> ConsoleAuthError {
        ConsoleAuthError(
            .forbidden,
            "step_up_required",
            "confirm with your passkey first (POST /console/auth/stepup/options, then stepup/finish); "
                + "a confirmation counts for 5 minutes"
        )
    }

    public static func invalidInput(_ message: String) -> ConsoleAuthError {
        ConsoleAuthError(.badRequest, "invalid_input", message)
    }

    /// A refused ceremony or invitation, with the status its code calls for.
    public init(_ error: PasskeyError) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .cborMalformed, .clientDataMalformed, .authenticatorDataMalformed, .credentialIDInvalid:
                .badRequest
            case .invitationUnknown: .notFound
            case .invitationUsed, .invitationExpired: .gone
            case .credentialExists: .conflict
            case .storageFailure: .serviceUnavailable
            default: .unauthorized
            }
        self.init(status, error.code.rawValue, error.reason)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let status = Int(self.status.code)
        let answer = APIErrorResponse(
            status: status,
            error: APIErrorResponse.errorClass(status: status),
            reason: self.reason,
            message: self.message
        )
        return Response(
            status: self.status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: answer.body))
        )
    }

    public var description: String { "\(status.code) \(reason): \(message)" }
}

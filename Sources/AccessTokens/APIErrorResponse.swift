import Foundation
public import SafetyPolicy

/// An error as the operator API answers it: status, extra headers and a JSON body. Pure values,
/// no HTTP framework: the API turns this into its framework's response. Every route of the API
/// answers every error in this one shape, `{"error": class, "reason": code, "message": text}`:
/// `error` is the class of the status (``errorClass(status:)``), `reason` the specific stable
/// code, `message` what was wrong and what to do (never internal error text or source paths).
///
/// | failure                                   | status | `error`           | `reason`                         |
/// |-------------------------------------------|--------|-------------------|----------------------------------|
/// | any `AuthenticationError` but `unavailable` | 401  | `unauthenticated` | its code (`expired`, `missing`…) |
/// | `AuthenticationError` `unavailable`       | 503    | `unavailable`     | `unavailable`                    |
/// | policy `not_authorized`                   | 403    | `forbidden`       | `not_authorized`                 |
/// | policy `control_not_permitted`            | 403    | `forbidden`       | `control_not_permitted`          |
///
/// A 401 carries `WWW-Authenticate: Bearer realm="medtunnel"` (with `error="invalid_token"`
/// when a token was sent, RFC 6750 §3). "Authenticated but not authorized" is a 403, never a
/// 401: the token was fine, the account may not do this.
public struct APIErrorResponse: Sendable, Hashable {
    public let status: Int
    public let headers: [String: String]
    /// `{"error": …, "reason": …, "message": …}`, keys sorted.
    public let body: [UInt8]

    public init(status: Int, error: String, reason: String, message: String, headers: [String: String] = [:]) {
        self.status = status
        self.headers = headers.merging(["Content-Type": "application/json"]) { own, _ in own }
        let document = ["error": error, "reason": reason, "message": message]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Three strings always encode.
        self.body = Array((try? encoder.encode(document)) ?? Data())
    }

    /// The `error` field for a status: the class of failure, the same for every route.
    public static func errorClass(status: Int) -> String {
        switch status {
        case 400: "bad_request"
        case 401: "unauthenticated"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 410: "gone"
        case 413: "too_large"
        case 422: "unprocessable"
        case 503: "unavailable"
        default: "internal"
        }
    }

    /// The 401 for an authentication failure (503 when the account store failed).
    public static func unauthenticated(_ error: AuthenticationError) -> APIErrorResponse {
        if error.code == .unavailable {
            return APIErrorResponse(
                status: 503,
                error: "unavailable",
                reason: error.code.rawValue,
                message: error.reason
            )
        }
        let challenge =
            error.code == .missing
            ? "Bearer realm=\"medtunnel\""
            : "Bearer realm=\"medtunnel\", error=\"invalid_token\", error_description=\"\(error.code)\""
        return APIErrorResponse(
            status: 401,
            error: "unauthenticated",
            reason: error.code.rawValue,
            message: error.reason,
            headers: ["WWW-Authenticate": challenge]
        )
    }

    /// The 403 for an authenticated actor the policy refused on authorization grounds
    /// (`not_authorized`, `control_not_permitted`); nil for any other reason, which is not an
    /// authorization failure.
    public static func forbidden(_ reason: PolicyReason) -> APIErrorResponse? {
        guard reason.code == .notAuthorized || reason.code == .controlNotPermitted else { return nil }
        return APIErrorResponse(status: 403, error: "forbidden", reason: reason.code.rawValue, message: reason.message)
    }
}

extension AuthenticationError {
    /// The response this failure is answered with (401; 503 for `unavailable`).
    public var response: APIErrorResponse { .unauthenticated(self) }
}

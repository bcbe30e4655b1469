public import AccessTokens
import ChangeRequests
import SafetyPolicy
import TherapyJSON

/// Why an operator-API operation on changes was refused, as the HTTP layer answers it: a status,
/// a stable `reason` (the specific code: `expired`, `not_authorized`, `self_approval`,
/// `idempotency_key_reused`, …) and a message naming the input, what was wrong and what to do.
/// Equality is on status and reason.
///
/// | status | `error`            | reasons                                                          |
/// |--------|--------------------|------------------------------------------------------------------|
/// | 400    | `bad_request`      | `idempotency_key_missing`, `invalid_input`, the JSON error codes (`malformed_json`, `missing_field`, `wrong_type`, `invalid_value`, `unknown_field`) |
/// | 401    | `unauthenticated`  | the `AuthenticationError` code (`missing`, `expired`, `bad_signature`, …) |
/// | 403    | `forbidden`        | `not_authorized`, `control_not_permitted`, and the approval codes (`self_approval`, `approver_not_clinician`, `approver_not_linked_to_patient`) |
/// | 400    | `bad_request`      | `pairing_code_invalid`, `pairing_code_unverified` (pairing)       |
/// | 404    | `not_found`        | `not_found`, `unknown_pump`                                      |
/// | 409    | `conflict`         | the store's codes (`idempotency_key_reused`, `illegal_transition`, …), `settings_unknown`, `settings_unverified`, `settings_mismatch`; pairing: `pump_revoked`, `pairing_code_not_offered`, `pairing_code_used`, `pump_already_paired`, `pump_not_paired`, `patient_mismatch`, `second_party_required` |
/// | 410    | `gone`             | `pairing_code_expired`                                           |
/// | 422    | `unprocessable`    | a policy code when approval meets a decision that is now a reject |
/// | 503    | `unavailable`      | `unavailable`, `store_unavailable`, `audit_failed`               |
/// | 500    | `internal`         | `storage_failure`, `internal`                                    |
///
/// A change the policy rejects is not an error: it is recorded (with its id) and answered 422
/// with the request's JSON (`SubmittedChange.status`).
public struct ChangeAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    public let status: Int
    public let reason: String
    public let message: String
    /// Extra response headers (`WWW-Authenticate` on a 401).
    public let headers: [String: String]
    /// For the gateway's log only, never the answer: what failed inside (5xx).
    public let internalDetail: String?

    public init(
        status: Int,
        reason: String,
        message: String,
        headers: [String: String] = [:],
        internalDetail: String? = nil
    ) {
        self.status = status
        self.reason = reason
        self.message = message
        self.headers = headers
        self.internalDetail = internalDetail
    }

    /// The response: status, headers and `{"error", "reason", "message"}`.
    public var response: APIErrorResponse {
        APIErrorResponse(
            status: status,
            error: APIErrorResponse.errorClass(status: status),
            reason: reason,
            message: message,
            headers: headers
        )
    }

    public var description: String { "\(status) \(reason): \(message)" }

    public static func == (lhs: ChangeAPIError, rhs: ChangeAPIError) -> Bool {
        lhs.status == rhs.status && lhs.reason == rhs.reason
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(status)
        hasher.combine(reason)
    }

    // MARK: Made from the parts' errors

    public static func unauthenticated(_ error: AuthenticationError) -> ChangeAPIError {
        let response = error.response
        return ChangeAPIError(
            status: response.status,
            reason: error.code.rawValue,
            message: error.reason,
            headers: response.headers.filter { $0.key != "Content-Type" }
        )
    }

    static func forbidden(_ reason: String, _ message: String) -> ChangeAPIError {
        ChangeAPIError(status: 403, reason: reason, message: message)
    }

    static func forbidden(_ reason: PolicyReason) -> ChangeAPIError {
        .forbidden(reason.code.rawValue, reason.message)
    }

    static func badRequest(_ reason: String, _ message: String) -> ChangeAPIError {
        ChangeAPIError(status: 400, reason: reason, message: message)
    }

    static func json(_ error: TherapyJSONError, in document: String) -> ChangeAPIError {
        let field = error.field.isEmpty ? document : "\(document).\(error.field)"
        return .badRequest(error.code.rawValue, "\(field): \(error.reason)")
    }

    static func notFound(_ reason: String, _ message: String) -> ChangeAPIError {
        ChangeAPIError(status: 404, reason: reason, message: message)
    }

    static func conflict(_ reason: String, _ message: String) -> ChangeAPIError {
        ChangeAPIError(status: 409, reason: reason, message: message)
    }

    static func store(_ error: ChangeRequestError) -> ChangeAPIError {
        let status = error.code.httpStatus
        guard status < 500 else {
            // Storage failures name database paths: logged, not answered.
            return ChangeAPIError(
                status: status,
                reason: error.code.rawValue,
                message: status == 503
                    ? "the gateway's change store or audit log is not available; try again shortly"
                    : "the gateway failed to answer; the reason is in its log",
                internalDetail: error.reason
            )
        }
        return ChangeAPIError(status: status, reason: error.code.rawValue, message: error.reason)
    }

    static let unavailable = ChangeAPIError(
        status: 503,
        reason: "unavailable",
        message: "the command pipeline is not running; try again shortly"
    )

    /// Anything else that failed: named, never echoed with secrets (errors here carry none).
    static func `internal`(_ error: any Error) -> ChangeAPIError {
        if let error = error as? ChangeAPIError { return error }
        if let error = error as? ChangeRequestError { return .store(error) }
        return ChangeAPIError(
            status: 500,
            reason: "internal",
            message: "the gateway failed to answer; the reason is in its log",
            internalDetail: "\(error)"
        )
    }
}

import Foundation
public import Hummingbird

/// An API error: its HTTP status and the body every error has,
/// `{"error": "<stable code>", "reason": "<what was wrong and what to do>"}`.
public struct APIError: HTTPResponseError, Equatable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    /// A stable code: `pump_not_found`, `invalid_parameter`, `not_found`, `internal_error`, ...
    public let error: String
    public let reason: String

    public init(_ status: HTTPResponse.Status, _ error: String, _ reason: String) {
        self.status = status
        self.error = error
        self.reason = reason
    }

    /// The JSON body of an error.
    public struct Body: Codable, Equatable, Sendable {
        public let error: String
        public let reason: String
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = try encoder.encode(Body(error: self.error, reason: self.reason))
        return Response(
            status: self.status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    public var description: String { "\(self.status.code) \(self.error): \(self.reason)" }

    static func invalidParameter(_ name: String, _ value: String, _ expected: String) -> APIError {
        APIError(.badRequest, "invalid_parameter", "query parameter '\(name)' must be \(expected), not '\(value)'")
    }
}

/// Turns every error that is not already an ``APIError`` into one, so that unknown routes,
/// wrong methods and failures all answer in the same JSON form. Internal errors are logged
/// and answered without their details.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as any HTTPResponseError {
            let path = request.uri.path
            switch error.status {
            case .notFound:
                throw APIError(
                    .notFound,
                    "not_found",
                    "no endpoint \(request.method) \(path); see GET /v1/pumps, /v1/phones, /v1/events, /healthz, /metrics"
                )
            case .methodNotAllowed:
                throw APIError(
                    .methodNotAllowed,
                    "method_not_allowed",
                    "\(path) does not take \(request.method); the API is read-only (GET)"
                )
            default:
                throw APIError(error.status, "http_error", "\(error.status.reasonPhrase) for \(request.method) \(path)")
            }
        } catch {
            context.logger.error("operator API request failed", metadata: ["error": "\(error)"])
            throw APIError(.internalServerError, "internal_error", "the gateway failed to answer; see its log")
        }
    }
}

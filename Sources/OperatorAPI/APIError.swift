import AccessTokens
import CommandPipeline
import Foundation
import HTTPTypes
public import Hummingbird

/// An error of the read routes, thrown through Hummingbird: its HTTP status and the body every
/// route of the API answers errors with, `{"error": class, "reason": code, "message": text}`
/// (`APIErrorResponse`; the change routes answer the same shape through `ChangeAPIError`).
public struct APIError: HTTPResponseError, Equatable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    /// A stable code: `pump_not_found`, `invalid_parameter`, `not_found`, `internal`, ...
    public let reason: String
    /// What was wrong and what to do.
    public let message: String
    /// Extra response headers (`WWW-Authenticate` on a 401).
    public let headers: [String: String]

    public init(_ status: HTTPResponse.Status, _ reason: String, _ message: String, headers: [String: String] = [:]) {
        self.status = status
        self.reason = reason
        self.message = message
        self.headers = headers
    }

    /// The same failure as the change routes answer it.
    init(_ error: ChangeAPIError) {
        self.init(HTTPResponse.Status(code: error.status), error.reason, error.message, headers: error.headers)
    }

    /// The JSON body of an error.
    public struct Body: Codable, Equatable, Sendable {
        public let error: String
        public let reason: String
        public let message: String
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let answer = APIErrorResponse(
            status: Int(self.status.code),
            error: APIErrorResponse.errorClass(status: Int(self.status.code)),
            reason: self.reason,
            message: self.message
        )
        var response = Response(
            status: self.status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: answer.body))
        )
        for (name, value) in self.headers {
            if let field = HTTPField.Name(name) { response.headers[field] = value }
        }
        return response
    }

    public var description: String { "\(self.status.code) \(self.reason): \(self.message)" }

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
                    "no endpoint \(request.method) \(path); GET /openapi.json lists every route"
                )
            case .methodNotAllowed:
                throw APIError(
                    .methodNotAllowed,
                    "method_not_allowed",
                    "\(path) does not take \(request.method)"
                )
            default:
                throw APIError(error.status, "http_error", "\(error.status.reasonPhrase) for \(request.method) \(path)")
            }
        } catch {
            context.logger.error("operator API request failed", metadata: ["error": "\(error)"])
            throw APIError(.internalServerError, "internal", "the gateway failed to answer; the reason is in its log")
        }
    }
}

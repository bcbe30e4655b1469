import AccessTokens
public import HTTPTypes
public import Hummingbird
public import Logging
import NIOCore

/// The HTTP access log of the operator API and the console: one `info` record per request,
/// label `medtunnel.access`, once the response is written:
///
///     method=GET route=/v1/pumps/{serial} status=200 duration_ms=3.1 user=olga request_id=9f2c…
///
/// - `route` is the template the router matched (`/v1/pumps/{serial}`), never the path: serials,
///   change and lockout ids stay out of the access log; `NotFound` for an unmatched path. It is
///   Hummingbird's own rendering of the matched route (`{name}` for a parameter), the same form
///   as the OpenAPI document's paths and the audit log's `access.read` routes.
/// - `user` is the account the request authenticated as (``RequestIdentity``); absent when it
///   did not. Never a token, a cookie, a query string or a body.
/// - `request_id` is generated here (16 hex digits), answered as `X-Request-Id`, and set on the
///   request's logger so the route's own records carry it too. A client's `X-Request-Id` is
///   not trusted: it would let a caller write into the log.
///
/// Added to the router first, so it wraps every route and the error middleware's answers.
public struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    public static var requestIDHeader: HTTPField.Name { HTTPField.Name("X-Request-Id")! }

    let logger: Logger

    public init(logger: Logger = Logger(label: "medtunnel.access")) {
        self.logger = logger
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        let requestID = Self.newRequestID()
        let identity = RequestIdentity()
        var tagged = context
        tagged.logger[metadataKey: "request_id"] = .string(requestID)
        let context = tagged
        var response: Response
        do {
            response = try await RequestIdentity.$current.withValue(identity) {
                try await next(request, context)
            }
        } catch let error as any HTTPResponseError {
            // Answered here rather than by the router, so that the answer carries the request id.
            response = try error.response(from: request, context: context)
        } catch {
            self.log(request, context, status: .internalServerError, started, identity, requestID)
            throw error
        }
        response.headers[Self.requestIDHeader] = requestID
        let status = response.status
        // Logged once the body is written (a streamed export's duration is its whole answer).
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer { self.log(request, context, status: status, started, identity, requestID) }
            try await body.write(writer)
        }
        return response
    }

    private func log(
        _ request: Request,
        _ context: Context,
        status: HTTPResponse.Status,
        _ started: ContinuousClock.Instant,
        _ identity: RequestIdentity,
        _ requestID: String
    ) {
        let elapsed = ContinuousClock.now - started
        let milliseconds =
            Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue),
            "route": .string(context.endpointPath ?? "NotFound"),
            "status": .stringConvertible(status.code),
            "duration_ms": .string(threeDecimals(milliseconds)),
            "request_id": .string(requestID),
        ]
        if let user = identity.userID { metadata["user"] = .string(user) }
        self.logger.info("request", metadata: metadata)
    }

    /// 64 random bits as 16 lowercase hex digits.
    static func newRequestID() -> String {
        let hex = String(UInt64.random(in: .min ... .max), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// `value` with three decimals (milliseconds to the microsecond), without Foundation.
private func threeDecimals(_ value: Double) -> String {
    let micros = Int64((max(0, value) * 1_000).rounded())
    let fraction = String(micros % 1_000)
    return "\(micros / 1_000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}

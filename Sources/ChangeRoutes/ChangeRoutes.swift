public import AccessTokens
import ChangeRequests
public import CommandPipeline
public import Foundation
public import HTTPTypes
public import Hummingbird
import Logging

/// The operator API's change routes over a ``CommandPipeline``: thin HTTP adapters, every
/// decision is the pipeline's. JSON in, JSON out; errors as `{"error", "reason", "message"}`
/// with the status the pipeline chose (``ChangeAPIError``); a 401 carries `WWW-Authenticate`.
///
/// | route                                 | success                                                  |
/// |---------------------------------------|----------------------------------------------------------|
/// | `POST /v1/pumps/{serial}/changes`     | 201 accepted, 202 held for approval, 422 rejected by the policy: the request (`ChangeRequestJSON`: id, state, decision with reasons, history with audit indexes); `Idempotent-Replayed: true` when the key was seen |
/// | `GET /v1/changes/{id}`                | 200, the request with its history                        |
/// | `POST /v1/changes/{id}/approve`       | 200, the request (approved and queued)                   |
/// | `POST /v1/changes/{id}/cancel`        | 200, the request (cancelled)                             |
/// | `GET /v1/pumps/{serial}/changes?limit=N` | 200, `{"changes": [...]}`, newest first (1…1000, default 100) |
/// | `PUT /v1/pumps/{serial}/prescription` | 200, the therapy version (`prescription`, `model`, `settings`, `auditIndex`) |
///
/// Every route needs `Authorization: Bearer <token>`. `POST …/changes` needs an
/// `Idempotency-Key` header (a retry with the same key and body returns the same request).
public struct ChangeRoutes: Sendable {
    /// The largest body read (a 48-entry schedule is about 2 KiB; a therapy document about 4 KiB).
    public static let maximumBodyBytes = 64 * 1024
    public static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    public static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!

    public let pipeline: CommandPipeline
    /// Where reads of change requests are recorded (`access.read`); nil: not recorded.
    public let reads: AccessReadLog?

    public init(pipeline: CommandPipeline, reads: AccessReadLog? = nil) {
        self.pipeline = pipeline
        self.reads = reads
    }

    /// Adds the routes to `router`.
    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/v1/pumps/:serial/changes") { request, context in
            await Self.answer {
                var request = request
                let serial = try context.parameters.require("serial")
                let body = try await Self.body(of: &request)
                let submitted = try await self.pipeline.submitChange(
                    serial: serial,
                    idempotencyKey: request.headers[Self.idempotencyKey],
                    body: body,
                    authorization: request.headers[.authorization]
                )
                var response = Self.json(submitted.status, submitted.body)
                if !submitted.created { response.headers[Self.idempotentReplayed] = "true" }
                return response
            }
        }
        Self.changeRoute("/v1/changes/:id", .get, on: router) { id, authorization in
            let change = try await self.pipeline.change(id, authorization: authorization)
            await self.recordRead(authorization, route: "GET /v1/changes/{id}", pumps: [change.pumpSerial])
            return change
        }
        Self.changeRoute("/v1/changes/:id/approve", .post, on: router) { id, authorization in
            try await self.pipeline.approveChange(id, authorization: authorization)
        }
        Self.changeRoute("/v1/changes/:id/cancel", .post, on: router) { id, authorization in
            try await self.pipeline.cancelChange(id, authorization: authorization)
        }
        router.get("/v1/pumps/:serial/changes") { request, context in
            await Self.answer {
                var limit = 100
                if let text = request.uri.queryParameters["limit"].map(String.init) {
                    guard let value = Int(text), (1...1000).contains(value) else {
                        throw ChangeAPIError(
                            status: 400,
                            reason: "invalid_parameter",
                            message: "limit '\(text.prefix(40))': give an integer from 1 to 1000"
                        )
                    }
                    limit = value
                }
                let serial = try context.parameters.require("serial")
                let changes = try await self.pipeline.changes(
                    forPump: serial,
                    authorization: request.headers[.authorization],
                    limit: limit
                )
                await self.recordRead(
                    request.headers[.authorization],
                    route: "GET /v1/pumps/{serial}/changes",
                    pumps: [serial]
                )
                return Self.json(200, ChangeRequestJSON.encode(changes))
            }
        }
        router.put("/v1/pumps/:serial/prescription") { request, context in
            await Self.answer {
                var request = request
                let serial = try context.parameters.require("serial")
                let body = try await Self.body(of: &request)
                let therapy = try await self.pipeline.setTherapy(
                    serial: serial,
                    body: body,
                    authorization: request.headers[.authorization]
                )
                return Self.json(200, ChangeRequestJSON.encode(therapy))
            }
        }
    }

    // MARK: Helpers

    /// Records a read the pipeline answered (it authenticated the caller; the token is in the
    /// authenticator's cache, so this costs no signature check).
    private func recordRead(_ authorization: String?, route: String, pumps: [String]) async {
        guard let reads, let user = try? await self.pipeline.authenticatedUser(authorization) else { return }
        await reads.record(
            reader: user.account.id,
            role: user.actor.role.rawValue,
            tokenID: user.tokenID,
            route: route,
            pumps: pumps
        )
    }

    /// A route on one change request (`:id`) answering it as JSON.
    static func changeRoute<Context: RequestContext>(
        _ path: RouterPath,
        _ method: HTTPRequest.Method,
        on router: Router<Context>,
        _ operation: @escaping @Sendable (String, String?) async throws -> ChangeRequest
    ) {
        router.on(path, method: method) { request, context in
            await Self.answer {
                let change = try await operation(try context.parameters.require("id"), request.headers[.authorization])
                return Self.json(200, ChangeRequestJSON.encode(change))
            }
        }
    }

    /// Where failures inside the gateway (5xx) are told in full; the answer says only that
    /// there was one.
    static let logger = Logger(label: "medtunnel.api")

    /// Runs a route, answering any error as JSON with its status.
    public static func answer(_ route: () async throws -> Response) async -> Response {
        do {
            return try await route()
        } catch let error as ChangeAPIError {
            if let detail = error.internalDetail {
                logger.error("API request failed", metadata: ["reason": "\(error.reason)", "detail": "\(detail)"])
            }
            return response(error)
        } catch let error as HTTPError {
            return response(
                ChangeAPIError(
                    status: Int(error.status.code),
                    reason: error.status == .contentTooLarge ? "body_too_large" : "bad_request",
                    message: error.status == .contentTooLarge
                        ? "the body is larger than \(maximumBodyBytes) bytes" : (error.body ?? "\(error.status)")
                )
            )
        } catch {
            logger.error("API request failed", metadata: ["error": "\(error)"])
            return response(
                ChangeAPIError(
                    status: 500,
                    reason: "internal",
                    message: "the gateway failed to answer; the reason is in its log"
                )
            )
        }
    }

    public static func body(of request: inout Request) async throws -> Data {
        Data(try await request.collectBody(upTo: maximumBodyBytes).readableBytesView)
    }

    public static func json(_ status: Int, _ body: Data) -> Response {
        Response(
            status: HTTPResponse.Status(code: status),
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    static func response(_ error: ChangeAPIError) -> Response {
        let answer = error.response
        var response = json(answer.status, Data(answer.body))
        for (name, value) in answer.headers {
            if let field = HTTPField.Name(name) { response.headers[field] = value }
        }
        return response
    }
}

import AuditLog
import AuditTrail
import Foundation
import HTTPTypes
import Hummingbird

/// The audit trail for reviewers (operators, incident staff, admins; others 403
/// `not_authorized`, no token 401). Every answer is recorded as a read (`access.read`).
///
/// | route | answer |
/// |---|---|
/// | `GET /v1/audit?patient=&pump=&actor=&kind=&since=&until=&limit=&before=` | entries, newest first; `next` is the `before` of the next page |
/// | `GET /v1/audit?...&after=N` | entries above index N, oldest first; `next` is the `after` of the next page |
/// | `GET /v1/audit/{index}` | the entry, its bytes and its inclusion proof against a signed checkpoint |
/// | `GET /v1/audit/checkpoint` | the latest signed checkpoint as a C2SP signed note (JSON with `Accept: application/json`) |
/// | `GET /v1/audit/consistency?from=N&to=M` | a consistency proof from tree size N to M (default: the latest checkpoint) |
///
/// Filters are ``AuditQuery``'s, shared with `medtunnel audit show`; hashes are hex. See
/// docs/audit.md.
struct AuditRoutes: Sendable {
    let source: AuditTrailSource
    let access: APIAccess

    static let defaultLimit = 100

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/v1/audit") { request, _ in
            let reader = try await self.reviewer(request)
            let response = try await self.list(request)
            await self.access.recordRead(reader, route: "GET /v1/audit", pumps: response.pumps)
            return response.response
        }
        // Tree heads and proof hashes carry no patient data, so these two reads are not
        // recorded: a witness polling them would otherwise keep adding entries (and checkpoints)
        // to the very log it watches, so the log never went quiet for it to cosign.
        router.get("/v1/audit/checkpoint") { request, _ in
            _ = try await self.reviewer(request)
            return try await self.checkpoint(request)
        }
        router.get("/v1/audit/consistency") { request, _ in
            _ = try await self.reviewer(request)
            return try await self.consistency(request)
        }
        router.get("/v1/audit/:index") { request, context in
            let reader = try await self.reviewer(request)
            let text = try context.parameters.require("index")
            let (response, pump) = try await self.entry(text)
            await self.access.recordRead(reader, route: "GET /v1/audit/{index}", pumps: pump.map { [$0] } ?? [])
            return response
        }
    }

    /// The reader, if a reviewer: the audit trail names every patient's pumps and every actor.
    private func reviewer(_ request: Request) async throws -> APIAccess.Reader {
        let reader = try await self.access.reader(request)
        guard reader.isReviewer else {
            throw APIError(
                .forbidden,
                "not_authorized",
                "the audit trail is for operators, incident staff and admins; your role is \(reader.user.actor.role.rawValue)"
            )
        }
        return reader
    }

    // MARK: Search

    private func list(_ request: Request) async throws -> (response: Response, pumps: Set<String>) {
        let parameters = Self.parameters(request)
        let query: AuditQuery
        do throws(AuditQueryError) {
            query = try AuditQuery(parameters: parameters)
        } catch {
            throw APIError.invalidParameter(error.parameter, error.value, error.expected)
        }
        let limit = try Self.integer(parameters, "limit", in: 1...UInt64(AuditScan.maximumLimit))
        let before = try Self.integer(parameters, "before", in: 0...UInt64.max)
        let after = try Self.integer(parameters, "after", in: 0...UInt64.max)
        if before != nil, after != nil {
            throw APIError.invalidParameter("after", parameters["after"] ?? "", "absent when 'before' is given")
        }
        let order: AuditScan.Order = after != nil ? .oldestFirst(after: after) : .newestFirst(before: before)
        let size = await self.source.log.size
        let page = try await AuditScan.page(
            store: self.source.log.store,
            size: size,
            query: query,
            order: order,
            limit: limit.map(Int.init) ?? Self.defaultLimit,
            pumpPatient: self.source.pumpPatient
        )
        let body: [String: Any] = [
            "entries": page.entries.map(AuditEntryJSON.object),
            "next": page.next.map { $0 as Any } ?? NSNull(),
            "order": after != nil ? "oldest_first" : "newest_first",
            "size": size,
        ]
        return (try Self.json(body), Set(page.entries.compactMap(\.event.pumpSerial)))
    }

    // MARK: Helpers

    /// The query parameters, the first value of each.
    static func parameters(_ request: Request) -> [String: String] {
        var parameters: [String: String] = [:]
        for (name, value) in request.uri.queryParameters where parameters[String(name)] == nil {
            parameters[String(name)] = String(value)
        }
        return parameters
    }

    /// A whole-number parameter in `range`, nil when absent; 400 naming it otherwise.
    static func integer(
        _ parameters: [String: String],
        _ name: String,
        in range: ClosedRange<UInt64>
    ) throws
        -> UInt64?
    {
        guard let text = parameters[name] else { return nil }
        guard let value = UInt64(text), range.contains(value) else {
            let expected =
                range.upperBound == .max
                ? "a whole number from \(range.lowerBound)"
                : "a whole number from \(range.lowerBound) to \(range.upperBound)"
            throw APIError.invalidParameter(name, String(text.prefix(64)), expected)
        }
        return value
    }

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: try AuditEntryJSON.encode(object)))
        )
    }
}

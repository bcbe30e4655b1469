import AuditExport
import AuditLog
import Foundation
import HTTPTypes
import Hummingbird

/// The audit log as a download, for reviewers (operators, incident staff, admins):
///
/// | route | answer |
/// |---|---|
/// | `GET /v1/audit/export?format=jsonl\|csv\|fhir&since=&until=&kind=&pump=` | 200, streamed: `application/x-ndjson`, `text/csv` or `application/fhir+json` |
///
/// 401 without a valid token, 403 `not_authorized` for other roles, 400 `invalid_parameter` naming
/// the parameter, 503 `audit_unavailable` when this API has no audit log. The body is written
/// entry by entry (bounded memory); a failure mid-stream (a corrupt entry) aborts the response
/// rather than end it cleanly, so a truncated export never looks complete. Every export is
/// recorded as `audit.export` (who, format, filters, count, `complete`) once the body is written.
struct AuditExportRoutes: Sendable {
    let access: APIAccess
    let audit: AuditLog?

    /// The log of the gateway's pipeline, or the one reads are recorded in (an API without changes).
    init(api: OperatorAPI) {
        self.access = api.access
        self.audit = api.commands?.audit ?? api.access.reads?.audit
    }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/v1/audit/export") { request, _ in
            try await self.export(request)
        }
    }

    func export(_ request: Request) async throws -> Response {
        let reader = try await self.access.reader(request)
        guard reader.isReviewer else {
            throw APIError(
                .forbidden,
                "not_authorized",
                "exporting the audit log is for operators, incident staff and admins"
            )
        }
        let query = request.uri.queryParameters
        let format: ExportFormat
        let filter: ExportFilter
        do {
            format = try ExportFormat(parameter: query["format"].map(String.init) ?? ExportFormat.jsonl.rawValue)
            filter = try ExportFilter(
                since: query["since"].map(String.init),
                until: query["until"].map(String.init),
                kind: query["kind"].map(String.init),
                pump: query["pump"].map(String.init)
            )
        } catch {
            throw APIError(
                .badRequest,
                "invalid_parameter",
                "query parameter '\(error.parameter ?? "format")': \(error.reason)"
            )
        }
        guard let audit = self.audit else {
            throw APIError(.serviceUnavailable, "audit_unavailable", "this gateway's API has no audit log to export")
        }
        let actor = try AuditActor(id: reader.user.account.id, role: reader.user.actor.role.rawValue)
        let exporter = AuditExporter(store: audit.store, origin: await audit.configuration.origin)
        let body = ResponseBody { writer in
            var written = AuditExporter.Summary(count: 0, scanned: 0)
            do {
                written = try await exporter.export(
                    format: format,
                    filter: filter,
                    now: Self.now(),
                    sink: { bytes in try await writer.write(ByteBuffer(bytes: bytes)) }
                )
            } catch {
                // Recorded even when cut short: part of the log may have left the gateway.
                try? await Self.record(audit, actor, format, filter, written, complete: false)
                throw error
            }
            try await Self.record(audit, actor, format, filter, written, complete: true)
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: format.contentType,
                .contentDisposition: "attachment; filename=\"medtunnel-audit.\(format.fileExtension)\"",
                .cacheControl: "no-store",
            ],
            body: body
        )
    }

    private static func record(
        _ audit: AuditLog,
        _ actor: AuditActor,
        _ format: ExportFormat,
        _ filter: ExportFilter,
        _ summary: AuditExporter.Summary,
        complete: Bool
    ) async throws {
        let event = try ExportRecord.event(
            by: actor,
            format: format,
            filter: filter,
            summary: summary,
            channel: complete ? "api" : "api-incomplete",
            now: Self.now()
        )
        _ = try await audit.append(event)
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

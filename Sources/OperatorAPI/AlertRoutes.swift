import AuditLog
import ChangeRoutes
import CommandPipeline
import Foundation
import Hummingbird
import SecurityEvents

/// The alerts the rules raised, for incident staff, operators and admins (bearer tokens):
///
/// | route                          | answer                                                   |
/// |--------------------------------|----------------------------------------------------------|
/// | `GET /v1/alerts?open=true`     | 200 `{"alerts": [...]}`, newest first (each with its evidence and audit index) |
/// | `POST /v1/alerts/{id}/ack`     | 200, the alert acknowledged (audited `alert.acknowledged`); 409 `already_acknowledged` |
struct AlertRoutes: Sendable {
    let pipeline: CommandPipeline
    let events: SecurityEventRecorder

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/v1/alerts") { request, _ in
            await ChangeRoutes.answer {
                _ = try await self.pipeline.authenticateReviewer(
                    request.headers[.authorization],
                    operation: "list_alerts"
                )
                let openOnly = request.uri.queryParameters["open"].map { $0 == "true" } ?? false
                let alerts = try await self.answering {
                    try await self.events.store.alerts(openOnly: openOnly, limit: 1_000)
                }
                return ChangeRoutes.json(200, try Self.encode(["alerts": alerts.map(AlertJSON.body)]))
            }
        }
        router.post("/v1/alerts/:id/ack") { request, context in
            await ChangeRoutes.answer {
                let user = try await self.pipeline.authenticateReviewer(
                    request.headers[.authorization],
                    operation: "acknowledge_alert"
                )
                let id = try context.parameters.require("id")
                let actor = try AuditActor(id: user.account.id, role: user.actor.role.rawValue)
                let alert = try await self.answering {
                    try await self.events.store.acknowledge(
                        id,
                        by: actor,
                        now: Int64(Date().timeIntervalSince1970 * 1000)
                    )
                }
                return ChangeRoutes.json(200, try AlertJSON.encode(alert))
            }
        }
    }

    private func answering<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SecurityEventError {
            switch error.code {
            case .notFound: throw ChangeAPIError(status: 404, reason: error.code.rawValue, message: error.reason)
            case .alreadyAcknowledged:
                throw ChangeAPIError(status: 409, reason: error.code.rawValue, message: error.reason)
            default:
                throw ChangeAPIError(
                    status: 503,
                    reason: error.code.rawValue,
                    message: "the gateway's event store is not available; try again shortly",
                    internalDetail: error.reason
                )
            }
        }
    }

    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}

import AuditLog
import CommandPipeline
import Foundation
import Hummingbird
import Lockouts
import OperatorAPI
import SecurityEvents

/// Alerts and lockouts: incident staff start, lift and confirm lockouts (each after a passkey
/// step-up; the second person rule is the pipeline's), reviewers acknowledge alerts.
extension ConsoleRoutes {
    func registerIncidentPages<Context: RequestContext>(on router: Router<Context>) {
        router.get("/console/alerts") { request, _ in
            await self.page(request, nav: "alerts") { viewer in
                _ = try await self.pipeline.authenticateReviewer(viewer.authorization, operation: "list_alerts")
                let alerts = try await self.api.events?.store.alerts(openOnly: false, limit: 200) ?? []
                let rows: [[String: Any]] = alerts.map { alert in
                    [
                        "id": alert.id, "rule": alert.rule,
                        "subject": "\(alert.subject.rawValue) \(alert.subjectValue)",
                        "summary": alert.summary, "raised": ConsoleTime.text(alert.raisedAtMilliseconds),
                        "open": alert.acknowledgedBy == nil,
                        "state": alert.acknowledgedBy.map { "acknowledged by \($0)" } ?? "open",
                        "csrf": viewer.csrfToken,
                    ]
                }
                return ("alerts", "Alerts", ["alerts": rows])
            }
        }
        router.post("/console/alerts/:id/ack") { request, context in
            await self.action(request, stepUp: false) { viewer, _ in
                let user = try await self.pipeline.authenticateReviewer(
                    viewer.authorization,
                    operation: "acknowledge_alert"
                )
                let id = try context.parameters.require("id")
                guard let events = self.api.events else {
                    throw ConsoleInputError(reason: "no_alerts", message: "this gateway records no alerts")
                }
                do {
                    _ = try await events.store.acknowledge(
                        id,
                        by: try AuditActor(id: user.account.id, role: user.actor.role.rawValue),
                        now: self.now()
                    )
                } catch let error as SecurityEventError {
                    let status = error.code == .notFound ? 404 : error.code == .alreadyAcknowledged ? 409 : 503
                    throw ChangeAPIError(status: status, reason: error.code.rawValue, message: error.reason)
                }
                return ("/console/alerts", "Alert \(id) acknowledged")
            }
        }
        router.get("/console/lockouts") { request, _ in
            await self.page(request, nav: "lockouts") { viewer in
                let views = try await self.pipeline.lockoutList(authorization: viewer.authorization)
                let incident = viewer.role == "incident"
                let lockouts = views.map(\.lockout).sorted { $0.started.atMilliseconds > $1.started.atMilliseconds }
                let rows = lockouts.map { self.lockoutRow($0, viewer: viewer, incident: incident) }
                return ("lockouts", "Lockouts", ["lockouts": rows, "csrf": viewer.csrfToken] as [String: Any])
            }
        }
        router.get("/console/lockouts/:id") { request, context in
            await self.page(request, nav: "lockouts") { viewer in
                let id = try context.parameters.require("id")
                let view = try await self.pipeline.lockoutDetail(id, authorization: viewer.authorization)
                let lockout = view.lockout
                func step(_ step: LockoutStep?) -> String {
                    step.map { "\(ConsoleTime.text($0.atMilliseconds)) by \($0.actorID)" } ?? "—"
                }
                return (
                    "lockout", "Lockout",
                    [
                        "id": lockout.id.rawValue, "scope": lockout.scope.description, "reason": lockout.reason,
                        "state": lockout.stateName, "started": step(lockout.started),
                        "liftRequested": step(lockout.liftRequested), "lifted": step(lockout.lifted),
                        "pumps": view.pumps.map { pump in
                            [
                                "serial": pump.serial, "state": pump.state,
                                "acknowledged": ConsoleTime.text(pump.acknowledgedAt),
                            ]
                        },
                    ] as [String: Any]
                )
            }
        }
        router.post("/console/lockouts") { request, _ in
            await self.action(request, stepUp: true) { viewer, form in
                let body: [String: Any] = [
                    "scope": form["scope"] ?? "", "reason": form["reason"] ?? "",
                    "suspendDelivery": form["suspendDelivery"] == "true",
                ]
                let view = try await self.pipeline.startLockout(
                    body: try JSONSerialization.data(withJSONObject: body),
                    authorization: viewer.authorization
                )
                return ("/console/lockouts", "Lockout \(view.lockout.id.rawValue) started on \(view.lockout.scope)")
            }
        }
        router.post("/console/lockouts/:id/lift") { request, context in
            await self.action(request, stepUp: true) { viewer, _ in
                let view = try await self.pipeline.requestLockoutLift(
                    try context.parameters.require("id"),
                    authorization: viewer.authorization
                )
                return (
                    "/console/lockouts", "Lift of \(view.lockout.scope) requested: a second incident user confirms it"
                )
            }
        }
        router.post("/console/lockouts/:id/confirm") { request, context in
            await self.action(request, stepUp: true) { viewer, _ in
                let view = try await self.pipeline.confirmLockoutLift(
                    try context.parameters.require("id"),
                    authorization: viewer.authorization
                )
                return ("/console/lockouts", "Lockout on \(view.lockout.scope) lifted")
            }
        }
    }

    func lockoutRow(_ lockout: Lockout, viewer: ConsoleViewer, incident: Bool) -> [String: Any] {
        let state = lockout.stateName
        let started = ConsoleTime.text(lockout.started.atMilliseconds)
        let requestedByOther = lockout.liftRequested.map { $0.actorID != viewer.userID } ?? false
        var row: [String: Any] = [:]
        row["id"] = lockout.id.rawValue
        row["shortID"] = String(lockout.id.rawValue.prefix(14))
        row["scope"] = lockout.scope.description
        row["reason"] = lockout.reason
        row["state"] = state
        row["started"] = "\(started) by \(lockout.started.actorID)"
        row["canLift"] = incident && state == "active"
        row["canConfirm"] = incident && state == "lift_requested" && requestedByOther
        row["csrf"] = viewer.csrfToken
        return row
    }
}

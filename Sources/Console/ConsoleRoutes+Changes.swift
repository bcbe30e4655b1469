import ChangeRequests
import CommandPipeline
import Gateway
import Hummingbird

/// The approval inbox and each request's history. Approving and rejecting are the pipeline's
/// `approveChange` and `cancelChange` with the viewer's authority, after a passkey step-up.
extension ConsoleRoutes {
    func registerChangePages<Context: RequestContext>(on router: Router<Context>) {
        router.get("/console/changes") { request, _ in
            await self.page(request, nav: "changes") { viewer in
                let user = try await self.user(viewer)
                let pumps = try await self.visiblePumps(user)
                let recent = try await self.changes(viewer, pumps: pumps)
                let held = recent.filter { $0.state == .pendingApproval }
                await self.recordRead(user, page: "/console/changes", pumps: Set(recent.map(\.pumpSerial)))
                return (
                    "changes", "Changes",
                    [
                        "held": held.map { ChangeText.row($0).merging(["csrf": viewer.csrfToken]) { a, _ in a } },
                        "recent": recent.prefix(50).map(ChangeText.row),
                    ] as [String: Any]
                )
            }
        }
        router.get("/console/changes/:id") { request, context in
            await self.page(request, nav: "changes") { viewer in
                let id = try context.parameters.require("id")
                let change = try await self.pipeline.change(id, authorization: viewer.authorization)
                await self.recordRead(
                    try await self.user(viewer),
                    page: "/console/changes/{id}",
                    pumps: [change.pumpSerial]
                )
                var object = ChangeText.row(change)
                object["decision"] =
                    change.decision.outcome.rawValue
                    + (change.decision.reasons.isEmpty ? "" : ": " + (object["reasons"] as? String ?? ""))
                object["approver"] = change.approverID ?? "—"
                object["history"] = change.history.map { step in
                    [
                        "time": ConsoleTime.text(step.at.millisecondsSinceEpoch), "from": step.from?.name ?? "—",
                        "to": step.to.name, "actor": "\(step.actor.id) (\(step.actor.role))", "note": step.note ?? "",
                        "auditIndex": step.auditIndex,
                    ] as [String: Any]
                }
                return ("change", "Change \(id)", object)
            }
        }
        router.post("/console/changes/:id/approve") { request, context in
            await self.action(request, stepUp: true) { viewer, _ in
                let id = try context.parameters.require("id")
                let change = try await self.pipeline.approveChange(id, authorization: viewer.authorization)
                return (
                    "/console/changes",
                    "Approved \(ChangeText.summary(change.change)) for \(change.pumpSerial): now \(change.state.name)"
                )
            }
        }
        router.post("/console/changes/:id/reject") { request, context in
            await self.action(request, stepUp: true) { viewer, _ in
                let id = try context.parameters.require("id")
                let change = try await self.pipeline.cancelChange(id, authorization: viewer.authorization)
                return ("/console/changes", "Rejected \(ChangeText.summary(change.change)) for \(change.pumpSerial)")
            }
        }
    }

    /// The change requests on the viewer's pumps, newest first; pumps whose changes the viewer
    /// may not list (an operator: changes are their patients' clinicians') are left out.
    func changes(_ viewer: ConsoleViewer, pumps: [PumpStatus]) async throws -> [ChangeRequest] {
        var all: [ChangeRequest] = []
        for pump in pumps.prefix(500) {
            let result: Result<[ChangeRequest], ChangeAPIError>
            do throws(ChangeAPIError) {
                result = .success(
                    try await self.pipeline.changes(
                        forPump: pump.serial,
                        authorization: viewer.authorization,
                        limit: 50
                    )
                )
            } catch {
                result = .failure(error)
            }
            switch result {
            case .success(let changes): all += changes
            case .failure(let error) where [403, 404, 409].contains(error.status): continue
            case .failure(let error): throw error
            }
        }
        return all.sorted { $0.updatedAt > $1.updatedAt }
    }

    func heldChanges(_ viewer: ConsoleViewer, pumps: [PumpStatus]) async throws -> [ChangeRequest] {
        try await self.changes(viewer, pumps: pumps).filter { $0.state == .pendingApproval }
    }
}

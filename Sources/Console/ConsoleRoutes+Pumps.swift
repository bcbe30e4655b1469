import AccessTokens
import AuditLog
import ChangeRequests
import CommandPipeline
import Foundation
import Gateway
import Hummingbird
import TherapyModel

/// Overview, pumps, one pump, phones: what the viewer may read, as `GET /v1/pumps` would
/// answer them (the same scope, the same `access.read` record).
extension ConsoleRoutes {
    func registerPumpPages<Context: RequestContext>(on router: Router<Context>) {
        router.get("/console") { request, _ in
            await self.page(request, nav: "overview") { viewer in
                ("overview", "Overview", try await self.overview(viewer))
            }
        }
        router.get("/console/pumps") { request, _ in
            await self.page(request, nav: "pumps") { viewer in
                let user = try await self.user(viewer)
                let pumps = try await self.visiblePumps(user)
                var rows: [[String: Any]] = []
                for pump in pumps {
                    let status = await self.pipeline.status(of: pump.serial)
                    rows.append([
                        "serial": pump.serial, "connected": pump.connected, "model": status.model ?? "—",
                        "firmware": status.firmware ?? pump.firmware ?? "—", "phone": pump.phone ?? "—",
                        "locked": !status.lockouts.isEmpty,
                        "lastApplied": status.lastAppliedSequence.map(String.init) ?? "—",
                        "lastSeen": ConsoleTime.text(pump.lastSeenMilliseconds),
                    ])
                }
                await self.recordRead(user, page: "/console/pumps", pumps: pumps.map(\.serial))
                return ("pumps", "Pumps", ["pumps": rows])
            }
        }
        router.get("/console/pumps/:serial") { request, context in
            await self.page(request, nav: "pumps") { viewer in
                let serial = try context.parameters.require("serial")
                return ("pump", "Pump \(serial)", try await self.pump(serial, viewer: viewer))
            }
        }
        router.get("/console/phones") { request, _ in
            await self.page(request, nav: "phones") { viewer in
                let user = try await self.user(viewer)
                let scope = try await self.pipeline.readScope(of: user)
                let live = self.api.pumps.pumps.filter { $0.connected && scope.contains($0.serial) }
                let reviewer = CommandPipeline.reviewerRoles.contains(user.actor.role)
                let phones = self.api.phones.phones.filter { phone in
                    reviewer || live.contains { $0.phone == phone.id }
                }
                let rows: [[String: Any]] = phones.map { phone in
                    [
                        "id": phone.id, "state": phone.connected ? "relaying" : "offline",
                        "pumps": live.filter { $0.phone == phone.id }.map(\.serial).joined(separator: ", "),
                        "lastSeen": ConsoleTime.text(phone.lastSeenMilliseconds),
                    ]
                }
                await self.recordRead(user, page: "/console/phones", pumps: live.map(\.serial))
                return ("phones", "Phones", ["phones": rows])
            }
        }
    }

    /// The pumps in the viewer's read scope that have connected at least once (to any node, when
    /// several share the database).
    func visiblePumps(_ user: AuthenticatedUser) async throws -> [PumpStatus] {
        let scope = try await self.pipeline.readScope(of: user)
        return await self.api.clusterPumps().filter { scope.contains($0.serial) }
    }

    func overview(_ viewer: ConsoleViewer) async throws -> [String: Any] {
        let user = try await self.user(viewer)
        let pumps = try await self.visiblePumps(user)
        let reviewer = CommandPipeline.reviewerRoles.contains(user.actor.role)
        var object: [String: Any] = [
            "pumpsKnown": pumps.count,
            "pumpsConnected": pumps.filter(\.connected).count,
            "phonesConnected": Set(pumps.filter(\.connected).compactMap(\.phone)).count,
        ]
        if reviewer {
            object["phonesConnected"] = self.api.phones.phones.filter(\.connected).count
        }
        object["alertsOpen"] =
            reviewer ? (try await self.api.events?.store.alerts(openOnly: true, limit: 1_000).count ?? 0) : 0
        let lockouts = try? await self.pipeline.lockoutList(authorization: viewer.authorization)
        object["lockoutsActive"] = lockouts?.filter(\.lockout.isActive).count ?? 0
        object["changesHeld"] = try await self.heldChanges(viewer, pumps: pumps).count
        object["checkpoint"] = try await self.checkpointAge()
        return object
    }

    /// How far the latest signed checkpoint is behind: its size against the log's, and how long
    /// ago the newest entry it does not cover was written.
    func checkpointAge() async throws -> [String: Any] {
        guard let log = self.api.audit?.log else { return ["age": "—", "label": "no audit log", "stale": false] }
        let size = await log.size
        let signed = try await log.store.latestCheckpoint()?.size ?? 0
        guard size > signed else {
            return ["age": "current", "label": "latest checkpoint covers all \(size) entries", "stale": false]
        }
        var age: Int64 = 0
        if let row = try await log.store.entries(in: signed..<signed + 1).first {
            let entry = try AuditEntry(decoding: row.body, context: "entry \(signed)")
            age = self.now() - entry.event.timeMilliseconds
        }
        return [
            "age": ConsoleTime.age(age),
            "label": "since an entry was not yet in a signed checkpoint (\(size - signed) entries)",
            "stale": age > 60_000,
        ]
    }

    func pump(_ serial: String, viewer: ConsoleViewer) async throws -> [String: Any] {
        let user = try await self.user(viewer)
        let scope = try await self.pipeline.readScope(of: user)
        guard scope.contains(serial) else { throw CommandPipeline.notYourPump(serial) }
        guard let pump = await self.api.clusterPump(serial) else {
            throw ConsoleInputError(
                reason: "pump_not_found",
                message: "no pump with serial '\(serial)' has connected to this gateway"
            )
        }
        let status = await self.pipeline.status(of: serial)
        let reported = await self.pipeline.reportedState(of: serial)
        let changes = try await self.pipeline.changes(forPump: serial, authorization: viewer.authorization, limit: 200)
        let end = self.now()
        let telemetry = (try? await self.api.store?.telemetry(serial: serial, limit: 2_000)) ?? []
        let chart = PumpChart(
            glucose: telemetry.map {
                .init(timeMilliseconds: $0.receivedMilliseconds, mgPerDL: Int($0.telemetry.glucoseMgPerDL))
            },
            basal: telemetry.map {
                .init(
                    timeMilliseconds: $0.receivedMilliseconds,
                    milliunitsPerHour: Int64($0.telemetry.basalRateMilliunitsPerHour)
                )
            },
            boluses: changes.compactMap { request in
                guard case .bolus(let amount) = request.change, request.state == .applied else { return nil }
                return .init(timeMilliseconds: request.updatedAt.millisecondsSinceEpoch, milliunits: amount.rawValue)
            },
            end: end
        )
        await self.recordRead(user, page: "/console/pumps/{serial}", pumps: [serial])
        return [
            "serial": serial,
            "state": pump.connected
                ? "connected" : "offline (last seen \(ConsoleTime.text(pump.lastSeenMilliseconds)))",
            "model": status.model ?? "—",
            "firmware": status.firmware ?? pump.firmware ?? "—",
            "phone": pump.phone ?? "—",
            "lockout": status.lockouts.isEmpty ? "none" : "locked (\(status.lockouts.joined(separator: ", ")))",
            "lastApplied": status.lastAppliedSequence.map(String.init) ?? "—",
            "glucose": reported.glucose.map { "\($0.value)" } ?? "—",
            "reservoir": reported.reservoir.map { "\($0.value)" } ?? "—",
            "chart": chart.svg,
            "changes": changes.prefix(20).map(ChangeText.row),
        ]
    }
}

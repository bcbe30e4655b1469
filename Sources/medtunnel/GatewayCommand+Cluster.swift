import ArgumentParser
import AuditLog
import AuditPostgres
import ChangeRequests
import ClusterPostgres
import CommandPipeline
import CoreMetrics
import DurationText
import Foundation
import Lockouts
import Logging
import NodeLeases
import ServiceLifecycle
import StoresPostgres

/// Several gateway nodes on one PostgreSQL database (docs/cluster.md): the node's id, and its
/// leases when the state directory's log is on PostgreSQL.
struct ClusterOptions: ParsableArguments {
    @Option(
        name: .customLong("node-id"),
        help: ArgumentHelp(
            "This gateway node's name, in every log line, in the metrics and in /healthz; among several nodes on one "
                + "PostgreSQL database, the name its leases are held under (1-64 of A-Z a-z 0-9 . _ -; "
                + "default: the host name).",
            valueName: "name"
        )
    )
    var nodeID: String?
    @Option(
        name: .customLong("node-lease"),
        help: ArgumentHelp(
            "With the log on PostgreSQL: how long this node's lease lasts without a renewal (renewed every third of "
                + "it). A node that stops for longer sends nothing more, and its pumps can be taken over by the node "
                + "they reconnect to after that long (1s to 5m).",
            valueName: "duration"
        )
    )
    var nodeLease = "10s"

    /// The node id: the option, else the host name (its first label), checked.
    func resolvedNodeID() throws -> String {
        let id = self.nodeID ?? Self.hostName()
        guard Self.isValid(id) else {
            throw ValidationError(
                self.nodeID == nil
                    ? "the host name '\(id)' is not a usable node id: give --node-id (1-64 of A-Z a-z 0-9 . _ -)"
                    : "--node-id '\(id)': use 1-64 of A-Z a-z 0-9 . _ -"
            )
        }
        return id
    }

    static func isValid(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2E || byte == 0x5F || byte == 0x2D
            }
    }

    static func hostName() -> String {
        String(ProcessInfo.processInfo.hostName.split(separator: ".").first ?? "gateway")
    }

    /// The keeper of this node's leases when the state directory's log is on PostgreSQL; nil for
    /// a log in audit.sqlite (one node: every pump connected here is its own).
    func keeper(stateDirectory: String, nodeID: String, logger: Logger) throws -> LeaseKeeper? {
        let lease = try durationOption("--node-lease", self.nodeLease)
        guard lease >= .seconds(1), lease <= .seconds(300) else {
            throw ValidationError("--node-lease '\(self.nodeLease)' must be between 1s and 5m")
        }
        guard let url = try AuditStateDirectory(path: stateDirectory).binding() else { return nil }
        let milliseconds = lease.components.seconds * 1_000 + lease.components.attoseconds / 1_000_000_000_000_000
        let parsed = try PostgresURL(url)
        return LeaseKeeper(
            configuration: LeaseBook.Configuration(nodeID: nodeID, leaseMilliseconds: milliseconds),
            // A lease call may take a third of the lease at most: a renewal that late still
            // leaves one more try before the deadline.
            store: PostgresLeaseStore(url: parsed, timeout: lease / 3, logger: logger),
            logger: logger
        )
    }
}

/// The keeper as a service: leases taken and renewed while the gateway serves, released at a
/// graceful stop (so other nodes take the pumps at once, not after the lease's lifetime).
struct LeaseService: Service {
    let keeper: LeaseKeeper

    func run() async throws {
        await cancelWhenGracefulShutdown { await self.keeper.run() }
    }
}

/// What other nodes change reaches this one through PostgreSQL's notifications on `channel`
/// (sent inside each committed step), with a look every `fallback` behind them: a notification
/// sent while the listener was reconnecting is not lost, only later. `changed` runs for each
/// payload; `sweep` once after each (re)connection and every `fallback`.
///
/// - `medtunnel_queue` (payload: a pump's serial): the node holding the pump's session delivers
///   what waits (`queueChanged`), the sweep looks at every pump with open requests.
/// - `medtunnel_lockout`: the lockout store reads the lockouts again and, when those in force
///   changed, every pump connected here reads its order again (`lockoutsChanged`).
struct NotificationService: Service {
    let channel: String
    let url: String
    let fallback: Duration
    let logger: Logger
    let changed: @Sendable (String) async -> Void
    let sweep: @Sendable () async -> Void

    static func queues(url: String, commands: CommandPipeline, logger: Logger) -> NotificationService {
        NotificationService(
            channel: ChangeRequestStore.queueChannel,
            url: url,
            fallback: .seconds(5),
            logger: logger,
            changed: { await commands.queueChanged($0) },
            sweep: { await commands.wakeWaitingPumps() }
        )
    }

    static func lockouts(url: String, commands: CommandPipeline, logger: Logger) -> NotificationService {
        NotificationService(
            channel: LockoutStore.lockoutChannel,
            url: url,
            fallback: .seconds(3),
            logger: logger,
            changed: { _ in await commands.lockoutsChanged() },
            sweep: { await commands.lockoutsChanged() }
        )
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.listen() }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.fallback)
                        await self.sweep()
                    }
                }
            }
        }
    }

    private func listen() async {
        while !Task.isCancelled {
            do {
                let payloads = try await PostgresNotifications.payloads(
                    channel: self.channel,
                    url: self.url,
                    logger: self.logger
                )
                // What was notified while no one listened.
                await self.sweep()
                for try await payload in payloads { await self.changed(payload) }
            } catch {
                self.logger.warning(
                    "lost the notifications; listening again",
                    metadata: ["channel": "\(self.channel)", "error": "\(error)"]
                )
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

extension GatewayCommand {
    /// `medtunnel_node_info{node="…",clustered="true|false"} 1`: which node a scrape came from
    /// (Prometheus' own `instance` label names an address, which a load balancer may hide).
    static func recordNode(_ id: String, clustered: Bool, factory: any MetricsFactory) {
        Gauge(
            label: "medtunnel_node_info",
            dimensions: [("node", id), ("clustered", clustered ? "true" : "false")],
            factory: factory
        ).record(1)
    }
}

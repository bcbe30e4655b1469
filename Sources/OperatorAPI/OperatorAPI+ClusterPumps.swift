public import Gateway
import TelemetryStore

/// The pumps as every node knows them, when several nodes share one database: a node's registry
/// holds the pumps it has seen, but a pump may have connected to another node since this one
/// started. On a shared store, the pumps' rows (written by whichever node holds each pump) and
/// the lease table (which node holds it now) give the whole fleet; a pump is connected while a
/// live node holds its lease. One node alone, or a database that does not answer: the registry.
extension OperatorAPI {
    /// Every pump: this node's registry, with the pumps other nodes hold or saw.
    public func clusterPumps() async -> [PumpStatus] {
        let local = self.pumps.pumps
        guard let (store, holders) = await self.clusterView(),
            let stored = try? await store.pumpSummaries()
        else { return local }
        let known = Set(local.map(\.serial))
        let others = stored.filter { !known.contains($0.pump.serial) }.map { Self.status($0, holders: holders) }
        return (local.map { Self.connectedAnywhere($0, holders: holders) } + others).sorted { $0.serial < $1.serial }
    }

    /// One pump: from this node's registry, or the database when another node saw it.
    public func clusterPump(_ serial: String) async -> PumpStatus? {
        let local = self.pumps.pump(serial)
        guard let (store, holders) = await self.clusterView() else { return local }
        if let local { return Self.connectedAnywhere(local, holders: holders) }
        guard let stored = try? await store.pumpSummaries(serial: serial).first else { return nil }
        var status = Self.status(stored, holders: holders)
        if let latest = try? await store.telemetry(serial: serial, limit: 1).first {
            status.lastTelemetry = latest.telemetry
            status.lastTelemetryReceivedMilliseconds = latest.receivedMilliseconds
        }
        return status
    }

    /// The shared store and who holds each pump; nil with one node, or when the lease table
    /// cannot be read (the registry then answers alone).
    private func clusterView() async -> (TelemetryStore, [String: String])? {
        guard let store = self.pumps.store, store.isShared, let leases = self.node?.leases,
            let holders = try? await leases.liveHolders(.pump)
        else { return nil }
        return (store, holders)
    }

    /// A pump whose session ended here may be connected to another node now.
    private static func connectedAnywhere(_ pump: PumpStatus, holders: [String: String]) -> PumpStatus {
        var pump = pump
        pump.connected = pump.connected || holders[pump.serial] != nil
        return pump
    }

    private static func status(_ stored: StoredPump, holders: [String: String]) -> PumpStatus {
        PumpStatus(
            serial: stored.pump.serial,
            connected: holders[stored.pump.serial] != nil,
            firmware: stored.pump.firmware,
            lastSeenMilliseconds: stored.pump.lastSeenMilliseconds,
            sessions: stored.pump.sessions,
            resumedSessions: stored.pump.resumedSessions,
            lastTelemetry: nil,
            telemetryStored: stored.telemetryCount,
            carrier: stored.pump.carrier
        )
    }
}

public import AuditLog
public import AuditWitness
public import CoreMetrics
public import Lockouts
public import Logging
public import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The product's gauges that are states rather than events, refreshed every `interval` (5 s by
/// default) and once at start, from what is in memory or small: never a scan of a large table
/// per scrape.
///
/// - `medtunnel_gateway_audit_entries`: the audit log's size (in memory).
/// - `medtunnel_gateway_audit_checkpoint_age_seconds`: how long the log has had entries that no
///   signed checkpoint covers: now − the time of the oldest entry past the newest checkpoint (one
///   row read by its index, cached while the checkpoint stays), 0 when the newest checkpoint
///   covers the whole log. It grows while checkpoints are not signed, whatever the traffic, which
///   is what an alert wants (the newest uncovered entry's age would stay near 0 under steady
///   appends even if the checkpoint timer had stopped).
/// - `medtunnel_gateway_audit_cosignature_age_seconds`: now − the timestamp of the newest
///   witness cosignature (`STATE/cosignatures.json`, a few entries); NaN when there is none.
/// - `medtunnel_gateway_lockouts_in_force`: lockouts not lifted (in memory).
/// - `medtunnel_gateway_pumps_lockout{state}`: the pump directory by `unlocked`, `locking`,
///   `locked` (``LockoutStore/pumpLockoutStates()``).
public struct ProductMetricsRefresher: Service {
    public static let auditEntries = "medtunnel.gateway.audit.entries"
    public static let checkpointAge = "medtunnel.gateway.audit.checkpoint.age.seconds"
    public static let cosignatureAge = "medtunnel.gateway.audit.cosignature.age.seconds"
    public static let lockoutsInForce = "medtunnel.gateway.lockouts.in_force"
    public static let pumpsByLockoutState = "medtunnel.gateway.pumps.lockout"
    public static let lockoutStates = ["unlocked", "locking", "locked"]

    let audit: AuditLog
    let lockouts: LockoutStore?
    let cosignatures: CosignatureStore
    let interval: Duration
    let logger: Logger
    let factory: any MetricsFactory
    private let cache = UncoveredEntryCache()

    public init(
        audit: AuditLog,
        lockouts: LockoutStore?,
        cosignatures: CosignatureStore,
        factory: any MetricsFactory,
        interval: Duration = .seconds(5),
        logger: Logger
    ) {
        self.audit = audit
        self.lockouts = lockouts
        self.cosignatures = cosignatures
        self.factory = factory
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.refresh()
                do {
                    try await Task.sleep(for: self.interval)
                } catch {
                    break
                }
            }
        }
    }

    /// Sets every gauge from the current state (the service does it every `interval`).
    public func refresh(nowMilliseconds: Int64 = ProductMetricsRefresher.wallClockMilliseconds()) async {
        let size = await self.audit.size
        let covered = await self.audit.coveredSize
        self.gauge(Self.auditEntries).record(Double(size))
        var checkpointAge = 0.0
        if size > covered {
            if let time = await self.cache.time(of: covered, in: self.audit, logger: self.logger) {
                checkpointAge = Double(max(0, nowMilliseconds - time)) / 1_000
            }
        }
        self.gauge(Self.checkpointAge).record(checkpointAge)
        var cosignatureAge = Double.nan
        do {
            if let newest = try self.cosignatures.entries().map(\.timestamp).max() {
                cosignatureAge = max(0, Double(nowMilliseconds) / 1_000 - Double(newest))
            }
        } catch {
            self.logger.warning("cosignature age not measured", metadata: ["error": "\(error)"])
        }
        self.gauge(Self.cosignatureAge).record(cosignatureAge)
        guard let lockouts = self.lockouts else { return }
        self.gauge(Self.lockoutsInForce).record(Double(await lockouts.active().count))
        do {
            let states = try await lockouts.pumpLockoutStates()
            for state in Self.lockoutStates {
                self.gauge(Self.pumpsByLockoutState, [("state", state)]).record(Double(states[state] ?? 0))
            }
        } catch {
            self.logger.warning("pumps by lockout state not measured", metadata: ["error": "\(error)"])
        }
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)] = []) -> Gauge {
        Gauge(label: label, dimensions: dimensions, factory: self.factory)
    }

    public static func wallClockMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// The time of the first entry past the newest checkpoint, read once per checkpoint size.
actor UncoveredEntryCache {
    private var index: UInt64?
    private var time: Int64?

    func time(of index: UInt64, in audit: AuditLog, logger: Logger) async -> Int64? {
        if self.index == index, let time = self.time { return time }
        do {
            guard let stored = try await audit.store.entries(in: index..<(index + 1)).first else { return nil }
            let entry = try AuditEntry(decoding: stored.body, context: "entry \(index)")
            self.index = index
            self.time = entry.event.timeMilliseconds
            return self.time
        } catch {
            logger.warning("checkpoint age not measured", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

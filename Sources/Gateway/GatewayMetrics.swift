public import CoreMetrics

/// The gateway's counters, through swift-metrics with an explicit factory (the operator API
/// passes a Prometheus one; tests get their own, so parallel gateways do not share counts).
/// Labels are dotted; a Prometheus exporter turns the dots into underscores.
public struct GatewayMetrics: Sendable {
    public static let sessions = "medtunnel.gateway.sessions.total"
    public static let resumedSessions = "medtunnel.gateway.sessions.resumed.total"
    public static let sessionsClosed = "medtunnel.gateway.sessions.closed.total"
    public static let telemetryStored = "medtunnel.gateway.telemetry.stored.total"
    public static let telemetryRefused = "medtunnel.gateway.telemetry.refused.total"
    public static let securityEvents = "medtunnel.gateway.security.events.total"
    public static let handshakeFailures = "medtunnel.gateway.handshake.failures.total"
    public static let uplinks = "medtunnel.gateway.uplinks.total"
    public static let uplinksClosed = "medtunnel.gateway.uplinks.closed.total"

    public let factory: any MetricsFactory
    private let sessionsCounter: Counter
    private let resumedCounter: Counter
    private let telemetryCounter: Counter
    private let uplinksCounter: Counter

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
        self.sessionsCounter = Counter(label: Self.sessions, factory: factory)
        self.resumedCounter = Counter(label: Self.resumedSessions, factory: factory)
        self.telemetryCounter = Counter(label: Self.telemetryStored, factory: factory)
        self.uplinksCounter = Counter(label: Self.uplinks, factory: factory)
        // The counters by reason exist from the start at 0 for every reason the gateway uses, so
        // /metrics lists them before the first close (the README named sessions_closed_total
        // while a fresh gateway did not export it) and docs/metrics.md can be checked against it.
        for reason in Self.sessionCloseReasons {
            _ = Counter(label: Self.sessionsClosed, dimensions: [("reason", reason)], factory: factory)
        }
        for reason in Self.uplinkCloseReasons {
            _ = Counter(label: Self.uplinksClosed, dimensions: [("reason", reason)], factory: factory)
        }
        for reason in Self.telemetryRefusalReasons {
            _ = Counter(label: Self.telemetryRefused, dimensions: [("reason", reason)], factory: factory)
        }
    }

    /// Why the gateway ends a pump session itself.
    public static let sessionCloseReasons = ["replaced", "idle", "shutdown", "store_refused", "revoked"]
    /// Why the gateway ends a phone uplink itself.
    public static let uplinkCloseReasons = ["idle", "shutdown", "lockout", "revoked"]
    /// Why the telemetry store refuses a message (`TelemetryStoreError.Code`).
    public static let telemetryRefusalReasons = ["queueFull", "closed", "storageFailed"]

    func sessionStarted(resumed: Bool) {
        self.sessionsCounter.increment()
        if resumed { self.resumedCounter.increment() }
    }

    func telemetryStored() { self.telemetryCounter.increment() }

    /// A pump session the gateway ended itself: `replaced`, `idle`, `shutdown`, `store_refused`.
    func sessionClosed(reason: String) {
        Counter(label: Self.sessionsClosed, dimensions: [("reason", reason)], factory: self.factory).increment()
    }

    /// Telemetry the store would not take: `queueFull`, `storageFailed`, `closed`.
    func telemetryRefused(reason: String) {
        Counter(label: Self.telemetryRefused, dimensions: [("reason", reason)], factory: self.factory).increment()
    }

    func uplinkStarted() { self.uplinksCounter.increment() }

    /// A phone uplink the gateway ended itself: `idle`, `shutdown`.
    func uplinkClosed(reason: String) {
        Counter(label: Self.uplinksClosed, dimensions: [("reason", reason)], factory: self.factory).increment()
    }

    func record(_ event: SecurityEvent) {
        Counter(label: Self.securityEvents, dimensions: [("kind", event.kind)], factory: self.factory).increment()
        if SecurityEvent.handshakeFailureKinds.contains(event.kind) {
            let peer = event.kind.hasPrefix("relay_") ? "phone" : "pump"
            Counter(
                label: Self.handshakeFailures,
                dimensions: [("reason", event.reason ?? "unknown"), ("peer", peer)],
                factory: self.factory
            ).increment()
        }
    }
}

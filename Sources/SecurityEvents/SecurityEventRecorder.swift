public import AnomalyRules
public import CoreMetrics
public import Foundation
public import Logging
import Synchronization

/// Takes every security event and observation of the gateway, from any thread, and:
/// 1. **aggregates** them (``SecurityEventAggregator``): the first event of each subject, kind,
///    reason and minute is written to the audit log at once, the rest of that minute as one entry
///    with their count when the minute ends, so that a flood of unauthenticated handshakes writes
///    a bounded number of entries;
/// 2. runs the **rules** (``RuleEngine``) over every event and observation; a rule that fires
///    raises an alert (audited, `medtunnel_alerts_total{rule}`, optionally POSTed to a webhook)
///    and, for a `lockout` rule, locks the phone or pump out through `lockout`.
///
/// `record` and `observe` never block: they decide under a lock and queue the writes for
/// ``run()`` (at most `maximumQueued`; beyond that writes are dropped and counted, the decision
/// of the rules is not).
public final class SecurityEventRecorder: Sendable {
    public struct Configuration: Sendable {
        public var rules: RuleSet
        /// How often ended minutes' counts are written.
        public var flushInterval: Duration = .seconds(5)
        /// Where alerts are POSTed as JSON (nil: nowhere).
        public var webhook: URL?
        public var maximumQueued = 10_000
        /// Where `medtunnel.alerts.total{rule}` and `medtunnel.security_events.dropped` go.
        public var metrics: any MetricsFactory = NOOPMetricsHandler.instance

        public init(rules: RuleSet = .defaults) {
            self.rules = rules
        }
    }

    enum Work: Sendable {
        case write(ObservedEvent)
        case index(ObservedEvent, UInt64)
        case fire(RuleFiring)
    }

    private struct State {
        var aggregator = SecurityEventAggregator()
        var engine: RuleEngine
    }

    /// Alerts raised, by rule: `medtunnel_alerts_total{rule}`.
    public static let alertsCounter = "medtunnel.alerts.total"

    public let store: SecurityEventStore
    public let configuration: Configuration
    private let state: Mutex<State>
    private let work: AsyncStream<Work>
    private let queue: AsyncStream<Work>.Continuation
    private let webhookQueue: (stream: AsyncStream<Data>, continuation: AsyncStream<Data>.Continuation)
    private let lockout: @Sendable (RuleFiring) async -> String?
    private let clock: @Sendable () -> Int64
    private let logger: Logger
    private let dropped: Counter

    /// `lockout` starts the lockout a `lockout` rule asks for and returns its id (nil if it failed).
    public init(
        store: SecurityEventStore,
        configuration: Configuration,
        logger: Logger,
        clock: @escaping @Sendable () -> Int64,
        lockout: @escaping @Sendable (RuleFiring) async -> String?
    ) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.lockout = lockout
        self.dropped = Counter(label: "medtunnel.security_events.dropped", factory: configuration.metrics)
        // Every rule's alert counter exists from the start at 0, so that /metrics lists each rule
        // (docs/metrics.md) and a rate over it works before its first alert.
        for rule in configuration.rules.rules {
            _ = Counter(label: Self.alertsCounter, dimensions: [("rule", rule.name)], factory: configuration.metrics)
        }
        self.state = Mutex(State(engine: RuleEngine(rules: configuration.rules)))
        (self.work, self.queue) = AsyncStream.makeStream(
            of: Work.self,
            bufferingPolicy: .bufferingOldest(configuration.maximumQueued)
        )
        self.webhookQueue = AsyncStream.makeStream(of: Data.self, bufferingPolicy: .bufferingOldest(1_000))
    }

    /// A security event the gateway saw (written to the audit log, aggregated, and ruled on).
    public func record(_ event: ObservedEvent) {
        let (decision, firings) = self.state.withLock { state in
            (state.aggregator.record(event), state.engine.observe(event))
        }
        if case .writeNow(let first) = decision { self.enqueue(.write(first)) }
        for firing in firings { self.enqueue(.fire(firing)) }
    }

    /// A security event already in the audit log at `auditIndex` (indexed and ruled on).
    public func recordAudited(_ event: ObservedEvent, auditIndex: UInt64) {
        let firings = self.state.withLock { $0.engine.observe(event) }
        self.enqueue(.index(event, auditIndex))
        for firing in firings { self.enqueue(.fire(firing)) }
    }

    /// Something the rules watch that the audit log records elsewhere (a command left uncertain,
    /// a policy rejection, a pump connecting through a phone): ruled on only.
    public func observe(_ event: ObservedEvent) {
        let firings = self.state.withLock { $0.engine.observe(event) }
        for firing in firings { self.enqueue(.fire(firing)) }
    }

    private func enqueue(_ item: Work) {
        if case .dropped = self.queue.yield(item) { self.dropped.increment() }
    }

    /// Writes what was queued, the minutes' counts, alerts and webhooks, until cancelled; then
    /// writes every count still open.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.flushEvery() }
            if let url = self.configuration.webhook {
                group.addTask { await self.postAlerts(to: url) }
            }
            for await item in self.work {
                await self.carryOut(item)
            }
            group.cancelAll()
        }
    }

    /// Stops `run()` after what is queued (graceful shutdown).
    public func finish() {
        self.queue.finish()
        self.webhookQueue.continuation.finish()
    }

    private func carryOut(_ item: Work) async {
        do {
            switch item {
            case .write(let event):
                try await self.store.append(event)
            case .index(let event, let auditIndex):
                try await self.store.index(event, auditIndex: auditIndex)
            case .fire(let firing):
                await self.fire(firing)
            }
        } catch {
            self.logger.error("security event not recorded", metadata: ["error": "\(error)"])
        }
    }

    private func fire(_ firing: RuleFiring) async {
        var lockoutID: String?
        if firing.action == .lockout { lockoutID = await self.lockout(firing) }
        do {
            let alert = try await self.store.raise(firing, lockoutID: lockoutID)
            Counter(
                label: Self.alertsCounter,
                dimensions: [("rule", firing.rule)],
                factory: self.configuration.metrics
            )
            .increment()
            self.logger.warning(
                "rule fired",
                metadata: [
                    "rule": "\(firing.rule)", "alert": "\(alert.id)",
                    "subject": "\(firing.subject):\(firing.subjectValue)",
                    "lockout": "\(lockoutID ?? "-")", "audit": "\(alert.auditIndex)",
                ]
            )
            if self.configuration.webhook != nil, let body = try? AlertJSON.encode(alert) {
                if case .dropped = self.webhookQueue.continuation.yield(body) {
                    self.logger.error("alert webhook queue full; alert not posted", metadata: ["alert": "\(alert.id)"])
                }
            }
        } catch {
            self.logger.error("alert not recorded", metadata: ["rule": "\(firing.rule)", "error": "\(error)"])
        }
    }

    private func flushEvery() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: self.configuration.flushInterval)
            } catch {
                break
            }
            await self.flush(now: self.clock())
        }
        await self.flush(now: .max)
    }

    /// Writes the counts of every minute ended by `now` (`run()` does it every `flushInterval`,
    /// and for every minute still open when it stops).
    public func flush(now: Int64) async {
        let entries = self.state.withLock { $0.aggregator.flush(now: now) }
        for entry in entries {
            var event = entry.first
            event.detail = entry.summary
            do {
                try await self.store.append(
                    event,
                    count: entry.foldedCount,
                    minute: entry.minuteStartMilliseconds / 60_000
                )
            } catch {
                self.logger.error("security event count not recorded", metadata: ["error": "\(error)"])
            }
        }
    }

    private func postAlerts(to url: URL) async {
        let webhook = AlertWebhook(url: url)
        for await body in self.webhookQueue.stream {
            switch await webhook.post(body) {
            case .delivered(let attempts, let status):
                self.logger.info("alert posted", metadata: ["attempts": "\(attempts)", "status": "\(status)"])
            case .failed(let attempts, let lastError):
                self.logger.error(
                    "alert webhook failed",
                    metadata: ["attempts": "\(attempts)", "error": "\(lastError)"]
                )
            }
        }
    }
}

/// An alert as JSON, for the API and the webhook.
public enum AlertJSON {
    public struct Body: Encodable {
        let id: String
        let rule: String
        let action: String
        let subject: String
        let summary: String
        let count: Int
        let raisedAt: Int64
        let auditIndex: UInt64
        let lockout: String?
        let acknowledgedBy: String?
        let acknowledgedAt: Int64?
        let evidence: [AlertRecord.Evidence]
    }

    public static func body(_ alert: Alert) -> Body {
        Body(
            id: alert.id,
            rule: alert.rule,
            action: alert.action.rawValue,
            subject: "\(alert.subject.rawValue):\(alert.subjectValue)",
            summary: alert.summary,
            count: alert.count,
            raisedAt: alert.raisedAtMilliseconds,
            auditIndex: alert.auditIndex,
            lockout: alert.lockoutID,
            acknowledgedBy: alert.acknowledgedBy,
            acknowledgedAt: alert.acknowledgedAtMilliseconds,
            evidence: alert.evidence
        )
    }

    public static func encode(_ alert: Alert) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(body(alert))
    }
}

import ChangeRoutes
public import CommandPipeline
import Foundation
public import Gateway
public import Hummingbird
public import Logging
public import Prometheus
import SafetyPolicy
public import SecurityEvents
public import TelemetryStore
import TherapyJSON

/// The operators' HTTP API over the gateway's registries (JSON, read-only), and its
/// Prometheus metrics. No authentication yet (issue 6): it binds loopback by default.
///
/// | endpoint | answer |
/// |---|---|
/// | `GET /v1/pumps` | every pump seen: serial, connected, phone, last seen, firmware, sessions |
/// | `GET /v1/pumps/{serial}` | one pump and its latest telemetry; 404 `pump_not_found` |
/// | `GET /v1/phones` | every phone seen: connected, pumps it carries now, streams, bytes |
/// | `GET /v1/events?limit=N&kind=K` | security events, newest first (limit 1…1000, default 100) |
/// | `GET /healthz` | 200 `ok`, 503 `failing` when the telemetry store refuses writes |
/// | `GET /metrics` | Prometheus text format |
///
/// Every error answers `{"error": "<code>", "reason": "<text>"}` with its HTTP status.
///
/// With the gateway's command pipeline, the change routes join (`ChangeRoutes`, authenticated
/// with bearer tokens): `POST /v1/pumps/{serial}/changes`, `GET /v1/changes/{id}`,
/// `POST /v1/changes/{id}/approve`, `POST /v1/changes/{id}/cancel`, `GET /v1/pumps/{serial}/changes`,
/// `PUT /v1/pumps/{serial}/prescription`; their errors answer
/// `{"error": "<class>", "reason": "<code>", "message": "<text>"}` (`ChangeAPIError`).
public struct OperatorAPI: Sendable {
    public let pumps: PumpRegistry
    public let phones: PhoneRegistry
    public let store: TelemetryStore?
    public let prometheus: PrometheusCollectorRegistry
    /// The setting-change pipeline behind the change routes; nil: no change routes.
    public let commands: CommandPipeline?
    /// Durable security events and alerts; nil: events from the registry's memory, no alerts.
    public let events: SecurityEventRecorder?

    public static let defaultEventLimit = 100
    public static let maximumEventLimit = 1_000

    public init(
        pumps: PumpRegistry,
        phones: PhoneRegistry,
        store: TelemetryStore?,
        prometheus: PrometheusCollectorRegistry,
        commands: CommandPipeline? = nil,
        events: SecurityEventRecorder? = nil
    ) {
        self.events = events
        self.pumps = pumps
        self.phones = phones
        self.store = store
        self.prometheus = prometheus
        self.commands = commands
    }

    /// The API over a running gateway; `prometheus` must be the registry behind the gateway's
    /// metrics factory (see ``metricsFactory(_:)``).
    public init(gateway: GatewayServer, prometheus: PrometheusCollectorRegistry) {
        self.init(
            pumps: gateway.registry,
            phones: gateway.phones,
            store: gateway.store,
            prometheus: prometheus,
            commands: gateway.commands,
            events: gateway.events
        )
    }

    /// A swift-metrics factory that records into `registry` with Prometheus names: the
    /// gateway's dotted labels with underscores (`medtunnel.gateway.sessions.total` becomes
    /// `medtunnel_gateway_sessions_total`).
    public static func metricsFactory(_ registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in
            (String(name.map { $0 == "." ? "_" : $0 }), labels)
        }
        return factory
    }

    public func router() -> Router<OperatorRequestContext> {
        let router = Router(context: OperatorRequestContext.self)
        if let commands = self.commands {
            ChangeRoutes(pipeline: commands).register(on: router)
            LockoutRoutes(pipeline: commands).register(on: router)
            PairingRoutes(pipeline: commands).register(on: router)
            if let events = self.events {
                AlertRoutes(pipeline: commands, events: events).register(on: router)
            }
        }
        router.add(middleware: JSONErrorMiddleware())
        router.get("/v1/pumps") { _, _ in
            APIJSON.Pumps(pumps: self.pumps.pumps.map(APIJSON.pump))
        }
        router.get("/v1/pumps/:serial") { _, context in
            let serial = try context.parameters.require("serial")
            guard let pump = self.pumps.pump(serial) else {
                throw APIError(
                    .notFound,
                    "pump_not_found",
                    "no pump with serial '\(serial)' has connected to this gateway; GET /v1/pumps lists the known ones"
                )
            }
            var commands: APIJSON.Commands?
            if let pipeline = self.commands {
                let status = await pipeline.status(of: serial)
                let reported = await pipeline.reportedState(of: serial)
                let iob = await pipeline.insulinOnBoard(of: serial)
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                func reading<V>(
                    _ r: ReportedPumpState.Reading<V>?,
                    _ limitMinutes: Int64,
                    _ value: (V) -> Int64
                )
                    -> APIJSON.Clinical.Reading?
                {
                    r.map {
                        let age = (now - $0.time.millisecondsSinceEpoch) / 1000
                        return APIJSON.Clinical.Reading(
                            value: value($0.value),
                            ageSeconds: age,
                            stale: age > limitMinutes * 60
                        )
                    }
                }
                let stateLimit = ReportedPumpState.pumpStateFreshMinutes
                let clinical = APIJSON.Clinical(
                    suspended: reading(reported.suspended, stateLimit) { $0 ? 1 : 0 },
                    reservoirMilliunits: reading(reported.reservoir, stateLimit) { $0.rawValue },
                    glucoseMgPerDL: reading(reported.glucose, ReportedPumpState.glucoseFreshMinutes) { $0.rawValue },
                    batteryPercent: reading(reported.batteryPercent, stateLimit) { $0 },
                    insulinOnBoardMilliunits: iob?.rawValue
                )
                commands = APIJSON.Commands(
                    connected: status.connected,
                    model: status.model,
                    firmware: status.firmware,
                    lastAppliedSequence: status.lastAppliedSequence,
                    inFlightSequence: status.inFlightSequence,
                    settingsHeld: status.settingsDivergence,
                    lockout: APIJSON.Commands.Lockout(
                        gateway: status.lockouts.isEmpty ? "unlocked" : "locked",
                        lockouts: status.lockouts,
                        reported: status.lastAppliedSequence == nil
                            ? nil : (status.reportedMode.contains(.lockedOut) ? "locked" : "unlocked")
                    ),
                    clinical: clinical
                )
            }
            return APIJSON.PumpDetail(
                pump: APIJSON.pump(pump),
                latestTelemetry: pump.lastTelemetry.map {
                    APIJSON.telemetry($0, received: pump.lastTelemetryReceivedMilliseconds)
                },
                commands: commands
            )
        }
        router.get("/v1/phones") { _, _ in
            let live = self.pumps.pumps.filter(\.connected)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            return APIJSON.Phones(
                phones: self.phones.phones.map { phone in
                    // A connected phone is being seen now.
                    var phone = phone
                    if phone.connected { phone.lastSeenMilliseconds = now }
                    return APIJSON.phone(phone, carrying: live.filter { $0.phone == phone.id }.map(\.serial))
                }
            )
        }
        router.get("/v1/events") { request, _ in
            let query = request.uri.queryParameters
            var limit = Self.defaultEventLimit
            if let text = query["limit"].map(String.init) {
                guard let value = Int(text), (1...Self.maximumEventLimit).contains(value) else {
                    throw APIError.invalidParameter("limit", text, "an integer from 1 to \(Self.maximumEventLimit)")
                }
                limit = value
            }
            let kind = query["kind"].map(String.init)
            if let kind, !SecurityEventKinds.known.contains(kind) {
                throw APIError.invalidParameter(
                    "kind",
                    String(kind.prefix(64)),
                    "one of \(SecurityEventKinds.known.sorted().joined(separator: ", "))"
                )
            }
            var since: Int64?
            if let text = query["since"].map(String.init) {
                guard let parsed = ISO8601Time.parse(text) else {
                    throw APIError.invalidParameter(
                        "since",
                        String(text.prefix(64)),
                        "an RFC 3339 time, e.g. 2026-12-05T10:00:00Z"
                    )
                }
                since = parsed.millisecondsSinceEpoch
            }
            let device = query["device"].map(String.init)
            let phone = query["phone"].map(String.init)
            if let store = self.events?.store {
                let stored = try await store.events(since: since, kind: kind, pump: device, phone: phone, limit: limit)
                return APIJSON.Events(events: stored.map(APIJSON.event))
            }
            let events = self.pumps.events.reversed().filter {
                (kind == nil || $0.kind == kind) && (device == nil || $0.device == device)
                    && (phone == nil || $0.phone == phone) && (since == nil || $0.timeMilliseconds >= since!)
            }
            return APIJSON.Events(events: events.prefix(limit).map(APIJSON.event))
        }
        router.get("/healthz") { request, context in
            let failure = self.store?.failure
            let health = APIJSON.Health(
                status: failure == nil ? "ok" : "failing",
                telemetryStore: failure.map { "\($0)" } ?? "ok",
                pumpsConnected: self.pumps.pumps.filter(\.connected).count,
                phonesConnected: self.phones.phones.filter(\.connected).count
            )
            var response = try health.response(from: request, context: context)
            if failure != nil { response.status = .serviceUnavailable }
            return response
        }
        router.get("/metrics") { _, _ in
            self.updateGauges()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: self.prometheus.emitToBuffer()))
            )
        }
        return router
    }

    /// The API as a swift-service-lifecycle service bound to `host:port` (port 0 picks one);
    /// `onRunning` gets the bound port.
    public func application(
        host: String,
        port: Int,
        logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: self.router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "medtunnel-gateway"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}

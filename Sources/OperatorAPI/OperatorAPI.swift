import ChangeRoutes
public import CommandPipeline
public import ConsoleAuth
import Foundation
public import Gateway
public import GatewayTLS
public import Hummingbird
import HummingbirdCore
public import Logging
public import NodeLeases
import ProductMetrics
public import Prometheus
import SafetyPolicy
public import SecurityEvents
public import TelemetryStore
import TherapyJSON

/// The operators' HTTP API over the gateway's registries (JSON), and its Prometheus metrics.
/// Every `/v1` route needs a bearer token; what each role reads is ``APIAccess``'s.
///
/// | endpoint | answer |
/// |---|---|
/// | `GET /v1/pumps` | the pumps the reader may read: serial, connected, phone, last seen, firmware, sessions |
/// | `GET /v1/pumps/{serial}` | one pump and its latest telemetry; 403 outside the reader's pumps, 404 `pump_not_found` for a reviewer |
/// | `GET /v1/phones` | phones (a reviewer: all; others: the phones carrying their pumps or named in their account) |
/// | `GET /v1/audit…` | the audit trail and its proofs, for reviewers (``AuditRoutes``, docs/audit.md) |
/// | `GET /v1/events?limit=N&kind=K` | security events, newest first (limit 1…1000, default 100); others than reviewers see their pumps' |
/// | `GET /healthz` | 200 `ok`, 503 `failing` when the telemetry store or the audit log refuses writes (no token: no patient data) |
/// | `GET /metrics` | Prometheus text format (a reviewer's token or the scrape token) |
/// | `GET /openapi.json` | the OpenAPI 3.1 document of every route (no token; ``openAPIDocument``) |
///
/// Every error of every route answers `{"error": class, "reason": code, "message": text}` with
/// its HTTP status (`APIErrorResponse`).
///
/// With the gateway's command pipeline, the change, lockout, alert and token routes join
/// (`ChangeRoutes`, `LockoutRoutes`, `AlertRoutes`, `TokenRoutes`).
public struct OperatorAPI: Sendable {
    public let pumps: PumpRegistry
    public let phones: PhoneRegistry
    public let store: TelemetryStore?
    public let prometheus: PrometheusCollectorRegistry
    /// The setting-change pipeline behind the change routes; nil: no change routes.
    public let commands: CommandPipeline?
    /// Durable security events and alerts; nil: events from the registry's memory, no alerts.
    public let events: SecurityEventRecorder?
    /// Who may read what, and the record of reads.
    public let access: APIAccess
    /// The audit log behind the `/v1/audit` routes (``AuditRoutes``); nil: no audit routes.
    public var audit: AuditTrailSource?
    /// Cosignatures handed in by witnesses; nil: no cosignature route.
    public var cosignatures: CosignatureRoutes? = nil
    /// The web console's passkey sign-in and sessions (`--console`); nil: no /console routes.
    public var console: ConsoleAuth? = nil
    /// Routes of modules built on this API (the console's pages), registered last, behind the
    /// JSON error middleware.
    public var routeExtensions: [@Sendable (Router<OperatorRequestContext>) -> Void] = []
    /// The TLS context of the API listener (`--api-tls-cert`, `--api-tls-key`); nil: plain HTTP,
    /// which the gateway allows on loopback only.
    public var tls: GatewayTLSContext? = nil
    /// This node's id and, with the log on PostgreSQL, its leases (for `/healthz`).
    public var node: NodeHealth? = nil

    /// Whether the API is served over HTTPS: what sets `Secure` on cookies and says `https://`.
    public var isTLS: Bool { self.tls != nil }

    public static let defaultEventLimit = 100
    public static let maximumEventLimit = 1_000

    public init(
        pumps: PumpRegistry,
        phones: PhoneRegistry,
        store: TelemetryStore?,
        prometheus: PrometheusCollectorRegistry,
        access: APIAccess,
        commands: CommandPipeline? = nil,
        events: SecurityEventRecorder? = nil,
        audit: AuditTrailSource? = nil
    ) {
        self.access = access
        self.audit = audit
        self.events = events
        self.pumps = pumps
        self.phones = phones
        self.store = store
        self.prometheus = prometheus
        self.commands = commands
    }

    /// The API over a running gateway; `prometheus` must be the registry behind the gateway's
    /// metrics factory (see ``metricsFactory(_:)``).
    public init(gateway: GatewayServer, prometheus: PrometheusCollectorRegistry, access: APIAccess) {
        self.init(
            pumps: gateway.registry,
            phones: gateway.phones,
            store: gateway.store,
            prometheus: prometheus,
            access: access,
            commands: gateway.commands,
            events: gateway.events,
            audit: gateway.commands.map(AuditTrailSource.init(pipeline:))
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
        factory.durationHistogramBuckets["medtunnel_gateway_change_delivery_seconds"] = ChangeMetrics.deliveryBuckets
        return factory
    }

    public func router() -> Router<OperatorRequestContext> {
        let router = Router(context: OperatorRequestContext.self)
        // First: it wraps every route below, and the errors they answer.
        router.add(middleware: AccessLogMiddleware())
        if let commands = self.commands {
            ChangeRoutes(pipeline: commands, reads: self.access.reads).register(on: router)
            TokenRoutes(pipeline: commands).register(on: router)
            LockoutRoutes(pipeline: commands).register(on: router)
            PairingRoutes(pipeline: commands).register(on: router)
            if let events = self.events {
                AlertRoutes(pipeline: commands, events: events).register(on: router)
            }
        }
        AuditExportRoutes(api: self).register(on: router)
        // Before the JSON error middleware: /console answers its own errors (same shape).
        self.console?.register(on: router)
        router.add(middleware: JSONErrorMiddleware())
        if let audit = self.audit {
            AuditRoutes(source: audit, access: self.access).register(on: router)
        }
        self.cosignatures?.register(on: router)
        router.get("/v1/pumps") { request, _ in
            let reader = try await self.access.reader(request)
            let pumps = await self.clusterPumps().filter { reader.scope.contains($0.serial) }
            await self.access.recordRead(reader, route: "GET /v1/pumps", pumps: pumps.map(\.serial))
            return APIJSON.Pumps(pumps: pumps.map(APIJSON.pump))
        }
        router.get("/v1/pumps/:serial") { request, context in
            let serial = try context.parameters.require("serial")
            let reader = try await self.access.reader(request)
            try reader.require(serial)
            guard let pump = await self.clusterPump(serial) else {
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
                    // Several nodes: the node holding the pump's session delivers its commands.
                    connected: status.connected || pump.connected,
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
            await self.access.recordRead(reader, route: "GET /v1/pumps/{serial}", pumps: [serial])
            return APIJSON.PumpDetail(
                pump: APIJSON.pump(pump),
                latestTelemetry: pump.lastTelemetry.map {
                    APIJSON.telemetry($0, received: pump.lastTelemetryReceivedMilliseconds)
                },
                commands: commands
            )
        }
        router.get("/v1/phones") { request, _ in
            let reader = try await self.access.reader(request)
            let live = self.pumps.pumps.filter(\.connected)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let ownPhones = Set(reader.user.account.attributes.all.filter { $0.key == .phone }.map(\.value))
            let visible = self.phones.phones.filter { phone in
                reader.isReviewer || ownPhones.contains(phone.id)
                    || live.contains { $0.phone == phone.id && reader.scope.contains($0.serial) }
            }
            await self.access.recordRead(
                reader,
                route: "GET /v1/phones",
                pumps: live.filter { pump in visible.contains { $0.id == pump.phone } }.map(\.serial)
            )
            return APIJSON.Phones(
                phones: visible.map { phone in
                    // A connected phone is being seen now.
                    var phone = phone
                    if phone.connected { phone.lastSeenMilliseconds = now }
                    return APIJSON.phone(phone, carrying: live.filter { $0.phone == phone.id }.map(\.serial))
                }
            )
        }
        router.get("/v1/events") { request, _ in
            let reader = try await self.access.reader(request)
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
            if let device { try reader.require(device) }
            // Others than reviewers see the events of their pumps only: fetch the most the route
            // allows and keep theirs.
            let fetch = reader.isReviewer || device != nil ? limit : Self.maximumEventLimit
            var events: [APIJSON.Event]
            if let store = self.events?.store {
                let stored = try await store.events(since: since, kind: kind, pump: device, phone: phone, limit: fetch)
                events = stored.filter { reader.scope.contains($0.pump ?? "") || reader.isReviewer }
                    .map(APIJSON.event)
            } else {
                events = self.pumps.events.reversed().filter {
                    (kind == nil || $0.kind == kind) && (device == nil || $0.device == device)
                        && (phone == nil || $0.phone == phone) && (since == nil || $0.timeMilliseconds >= since!)
                        && (reader.isReviewer || reader.scope.contains($0.device ?? ""))
                }.map(APIJSON.event)
            }
            events = Array(events.prefix(limit))
            await self.access.recordRead(reader, route: "GET /v1/events", pumps: Set(events.compactMap(\.device)))
            return APIJSON.Events(events: events)
        }
        router.get("/healthz") { request, context in
            let failure = self.store?.failure
            // A stopped log refuses every change, lockout and sign-in that must be audited: a
            // load balancer should send people elsewhere.
            // The change store's connection to a shared database counts too: changes go through it.
            var auditStopped = await self.audit?.log.unavailableReason
            if auditStopped == nil, let problem = await self.commands?.databaseProblem() {
                auditStopped = "database unavailable: \(problem)"
            }
            var health = APIJSON.Health(
                status: failure == nil && auditStopped == nil ? "ok" : "failing",
                telemetryStore: failure.map { "\($0)" } ?? "ok",
                pumpsConnected: self.pumps.pumps.filter(\.connected).count,
                phonesConnected: self.phones.phones.filter(\.connected).count
            )
            if self.audit != nil { health.auditLog = auditStopped ?? "ok" }
            if let node = self.node {
                health.node = node.id
                if let snapshot = await node.leases?.snapshot() {
                    health.lease = APIJSON.Lease(
                        state: snapshot.nodeEpoch == nil ? "none" : "held",
                        epoch: snapshot.nodeEpoch,
                        remainingMilliseconds: snapshot.remainingMilliseconds,
                        ownedPumps: snapshot.ownedPumps,
                        waitingPumps: snapshot.waitingPumps,
                        roles: snapshot.roles,
                        lastError: snapshot.lastError
                    )
                    // Without its lease this node delivers nothing: send pumps and people elsewhere.
                    if snapshot.nodeEpoch == nil { health.status = "failing" }
                }
            }
            var response = try health.response(from: request, context: context)
            if health.status != "ok" { response.status = .serviceUnavailable }
            return response
        }
        router.get("/metrics") { request, _ in
            try await self.access.mayScrape(request)
            return self.metricsResponse()
        }
        router.get("/openapi.json") { _, _ in Self.openAPIResponse() }
        for extend in self.routeExtensions { extend(router) }
        return router
    }

    /// The metrics in Prometheus' text format.
    func metricsResponse() -> Response {
        self.updateGauges()
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: self.prometheus.emitToBuffer()))
        )
    }

    /// `/metrics` alone, without a token, for a listener bound to loopback only
    /// (`--metrics-listen`): Prometheus on the same host scrapes it. It stays plain HTTP and
    /// loopback-only even when the API has TLS: it asks no token, and TLS would encrypt it
    /// without saying who may read it; a remote Prometheus scrapes the API's `/metrics` over
    /// HTTPS with the scrape token instead.
    public func metricsApplication(
        host: String,
        port: Int,
        logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: OperatorRequestContext.self)
        // Scrapes are requests like any other: in the access log, with no user.
        router.add(middleware: AccessLogMiddleware())
        router.add(middleware: JSONErrorMiddleware())
        router.get("/metrics") { _, _ in self.metricsResponse() }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "medtunnel-metrics"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// The API as a swift-service-lifecycle service bound to `host:port` (port 0 picks one),
    /// over HTTPS when ``tls`` is set; `onRunning` gets the bound port.
    public func application(
        host: String,
        port: Int,
        logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: self.router(),
            server: self.tls.map { HTTPServerBuilder.gatewayTLS($0) } ?? .http1(),
            configuration: .init(address: .hostname(host, port: port), serverName: "medtunnel-gateway"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}

/// What `/healthz` says of the node: its id and, among several nodes, its leases.
public struct NodeHealth: Sendable {
    public let id: String
    public let leases: LeaseKeeper?
    public init(id: String, leases: LeaseKeeper?) {
        self.id = id
        self.leases = leases
    }
}

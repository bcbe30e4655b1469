import AccessTokens
import AnomalyRules
public import ArgumentParser
import AuditLog
import AuditTrail
import AuditWitness
import Console
import Foundation
import Gateway
import LogFormat
import Logging
import MedTunnelPKI
import NIOCore
import NIOPosix
import OperatorAPI
import Prometheus
import ServiceLifecycle
import StateBackup
import SystemdNotify

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Run the gateway: terminates each pump's inner TLS and keeps the registry of pumps.",
        discussion: """
            Stores pumps and telemetry in STATE/gateway.sqlite (in the database after medtunnel db \
            attach); setting changes go through the \
            command pipeline (audit log STATE/audit.sqlite, or the PostgreSQL database named by \
            STATE/audit-database.url after medtunnel db attach; accounts, tokens and change requests \
            in STATE, the command key in the PKI), recovered from the audit log at start. \
            SIGTERM or SIGINT stops it gracefully: no new connections, every session closed with \
            close_notify, the telemetry store flushed, exit 0.
            """
    )

    @Option(help: "The gateway folder PKI/gateway (from `medtunnel pki init --dir PKI`); never the PKI root.") var pki:
        String
    @Option(name: .customLong("state-dir"), help: "Where the gateway keeps its state.") var stateDir: String
    @Option(
        name: .customLong("pump-listen"),
        help: "HOST:PORT for pumps connecting directly over TCP (port 0 picks a free one)."
    )
    var pumpListen: String?
    @Option(
        name: .customLong("relay-listen"),
        help: "HOST:PORT for phone relays (outer TLS 1.3 with the phone's certificate, HTTP/2 inside)."
    )
    var relayListen: String?
    @Option(
        name: .customLong("api-listen"),
        help: """
            HOST:PORT for the operator API (JSON, /metrics, /openapi.json; every /v1 route needs a \
            bearer token). Plain HTTP on a loopback address (for a TLS-terminating proxy on this \
            host); any other address needs --api-tls-cert and --api-tls-key, and is served over \
            HTTPS. Port 0 (the default) picks a free port, printed at startup.
            """
    )
    var apiListen = "127.0.0.1:0"
    @Option(
        name: .customLong("api-tls-cert"),
        help: ArgumentHelp(
            "PEM certificate (leaf first, then intermediates) for HTTPS on --api-listen; with --api-tls-key.",
            valueName: "file"
        )
    )
    var apiTLSCert: String?
    @Option(
        name: .customLong("api-tls-key"),
        help: ArgumentHelp(
            "PEM private key of --api-tls-cert (mode 0600: the gateway refuses a key others can read).",
            valueName: "file"
        )
    )
    var apiTLSKey: String?
    // Gone: it let tokens cross the network in clear. Kept hidden so that a script still passing
    // it is told what replaced it, rather than "unknown option".
    @Flag(name: .customLong("api-allow-remote"), help: .hidden)
    var apiAllowRemote = false
    @Option(
        name: .customLong("metrics-listen"),
        help: ArgumentHelp(
            "Also serve /metrics without a token on this loopback HOST:PORT, for a Prometheus on this host.",
            valueName: "host:port"
        )
    )
    var metricsListen: String?
    @Option(
        name: .customLong("metrics-token-file"),
        help: ArgumentHelp(
            "A file (mode 0600) holding the scrape token that /metrics on the API accepts as a bearer token.",
            valueName: "file"
        )
    )
    var metricsTokenFile: String?
    @Option(
        name: .customLong("access-log-interval"),
        help: ArgumentHelp(
            "How often the access.read audit entries (reads of patient data, batched) are written (5s, 1m); "
                + "a bare number is seconds, as before.",
            valueName: "duration"
        )
    )
    var accessLogInterval = "5s"
    @Option(
        name: .customLong("checkpoint-interval"),
        help: ArgumentHelp(
            "How often to sign an audit checkpoint when entries were added since the last (250ms, 10s, 15m); "
                + "one more is signed at graceful shutdown.",
            valueName: "duration"
        )
    )
    var checkpointInterval = "10s"
    @Option(
        name: .customLong("idle-timeout"),
        help: ArgumentHelp(
            "Silence after which a pump session is closed (heartbeats count): 90s, 2m.",
            valueName: "duration"
        )
    )
    var idleTimeout = "2m"
    @Option(
        name: .customLong("uplink-idle-timeout"),
        help: ArgumentHelp(
            "How long a phone uplink with no pump streams and no traffic stays open (5m; 0: for ever).",
            valueName: "duration"
        )
    )
    var uplinkIdleTimeout = "5m"
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info
    @Option(name: .customLong("log-format"), help: "text, or json: one JSON object per line (docs/logging.md).")
    var logFormat: LogFormat = .text
    @Option(
        help: ArgumentHelp(
            "A rules file for the anomaly rules over security events (default: the built-in rules, "
                + "`medtunnel rules show`). A malformed file stops the gateway, naming the line.",
            valueName: "file"
        )
    )
    var rules: String?
    @Option(
        name: .customLong("alert-webhook"),
        help: ArgumentHelp("POST every alert as JSON to this http(s) URL (retried on failure).", valueName: "url")
    )
    var alertWebhook: String?
    @Option(
        name: .customLong("witness-key"),
        help: ArgumentHelp(
            "A witness whose cosignatures POST /v1/audit/cosignatures accepts (its vkey; repeat for several).",
            valueName: "vkey"
        )
    )
    var witnessKeys: [String] = []
    @OptionGroup var console: ConsoleOptions
    @OptionGroup var syslog: SyslogOptions
    @OptionGroup var cluster: ClusterOptions
    @OptionGroup var configFile: ConfigFileOption

    func validate() throws {
        guard let api = HostPort(self.apiListen) else {
            throw ValidationError("--api-listen '\(self.apiListen)' is not HOST:PORT")
        }
        if self.apiAllowRemote {
            throw ValidationError(
                "--api-allow-remote is gone: it sent bearer tokens across the network in plain HTTP. Give --api-tls-cert FILE and --api-tls-key FILE to serve the API over HTTPS on any address"
            )
        }
        switch (self.apiTLSCert, self.apiTLSKey) {
        case (.some, nil):
            throw ValidationError("--api-tls-cert needs --api-tls-key: give the certificate's private key too")
        case (nil, .some):
            throw ValidationError("--api-tls-key needs --api-tls-cert: give the key's certificate too")
        case (nil, nil) where !OperatorAPI.isLoopback(host: api.host):
            throw ValidationError(
                "--api-listen \(self.apiListen) is not a loopback address, and without TLS bearer tokens would cross the network in clear. Give --api-tls-cert FILE and --api-tls-key FILE, or listen on 127.0.0.1 or [::1] (behind a TLS-terminating proxy on this host)"
            )
        default:
            break
        }
        if let text = self.metricsListen {
            guard let address = HostPort(text) else {
                throw ValidationError("--metrics-listen '\(text)' is not HOST:PORT")
            }
            guard OperatorAPI.isLoopback(host: address.host) else {
                throw ValidationError(
                    "--metrics-listen \(text) is not a loopback address; it answers without a token, so it binds only 127.0.0.1 or [::1] (use --metrics-token-file for remote scrapes)"
                )
            }
        }
        _ = try self.durations()
        _ = try self.syslog.collector()
    }

    func run() async throws {
        let nodeID = try self.cluster.resolvedNodeID()
        let logger = self.logFormat.bootstrap(
            label: "medtunnel.gateway",
            level: self.logLevel,
            metadata: ["node": "\(nodeID)"]
        )
        guard let listen = self.pumpListen.map({ HostPort($0) }) ?? HostPort("127.0.0.1:7443") else {
            throw ValidationError("--pump-listen '\(self.pumpListen ?? "")' is not HOST:PORT")
        }
        let relayListen = try self.relayListen.map { text in
            guard let address = HostPort(text) else {
                throw ValidationError("--relay-listen '\(text)' is not HOST:PORT")
            }
            return address
        }
        guard let apiListen = HostPort(self.apiListen) else {
            throw ValidationError("--api-listen '\(self.apiListen)' is not HOST:PORT")
        }
        let prometheus = PrometheusCollectorRegistry()
        var configuration = GatewayServer.Configuration(
            pki: PKIDirectory(self.pki),
            stateDirectory: self.stateDir,
            pumpListen: listen,
            relayListen: relayListen
        )
        configuration.metrics = GatewayMetrics(factory: OperatorAPI.metricsFactory(prometheus))
        let durations = try self.durations()
        configuration.pumpIdleTimeout = TimeAmount(durations.idle)
        configuration.uplinkIdleTimeout = durations.uplinkIdle.map(TimeAmount.init)
        configuration.rules = try RulesCommand.load(self.rules)
        if let text = self.alertWebhook {
            guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--alert-webhook '\(text)' is not an http:// or https:// URL")
            }
            configuration.alertWebhook = url
        }
        configuration.commandPipeline.crashAfterSendAudited =
            ProcessInfo.processInfo.environment["MEDTUNNEL_CRASH_AFTER_SEND_AUDITED"] == "1"
        try Self.checkPKIFolder(self.pki)
        // Before anything is opened: a bad certificate or key stops the start, naming the flag.
        let apiTLS = try self.apiTLSContext()
        try Self.prepareStateDirectory(self.stateDir)
        // With the log on PostgreSQL, this node's leases (nothing is connected yet).
        let leases = try self.cluster.keeper(stateDirectory: self.stateDir, nodeID: nodeID, logger: logger)
        Self.recordNode(nodeID, clustered: leases != nil, factory: configuration.metrics.factory)
        // Held until the process ends; no writing command runs during the recovery in open().
        let stateLock = try Self.lockStateDirectory(self.stateDir)
        defer { stateLock.release() }
        let server = try await GatewayServer.open(
            configuration: configuration,
            logger: logger,
            group: MultiThreadedEventLoopGroup.singleton
        )
        stateLock.letWritersIn()
        if let leases {
            // Before any listener is bound: a pump's hello must find deliveries fenced.
            guard let commands = server.commands else {
                throw ValidationError("the gateway runs without its command pipeline; leases need it")
            }
            await commands.useLeases(leases)
            await leases.want(.role("checkpoint"))
        }

        // One line on stdout per listener, which scripts and tests wait for.
        let channel = try await Self.listening("--pump-listen", listen) { try await server.bindPumpListener(listen) }
        announce("gateway: listening for pumps on \(listen.host):\(channel.localAddress?.port ?? listen.port)")
        if let relayListen {
            let relay = try await Self.listening("--relay-listen", relayListen) {
                try await server.bindRelayListener(relayListen)
            }
            announce(
                "gateway: listening for relays on \(relayListen.host):\(relay.localAddress?.port ?? relayListen.port)"
            )
        }
        fflush(nil)
        guard let commands = server.commands else {
            throw ValidationError("the gateway runs without its command pipeline; the operator API needs it")
        }
        let reads = AccessReadLog(
            audit: commands.audit,
            interval: durations.accessLog,
            logger: logger
        )
        let access = APIAccess(pipeline: commands, reads: reads, metricsToken: try self.metricsToken())
        var operatorAPI = OperatorAPI(gateway: server, prometheus: prometheus, access: access)
        operatorAPI.cosignatures = try self.cosignatureRoutes(log: commands.audit)
        operatorAPI.audit?.cosignatures = CosignatureStore(stateDirectory: self.stateDir)
        operatorAPI.tls = apiTLS
        operatorAPI.node = NodeHealth(id: nodeID, leases: leases)
        let scheme = operatorAPI.isTLS ? "https" : "http"
        operatorAPI.console = try await self.console.open(
            stateDirectory: self.stateDir,
            audit: commands.audit,
            api: apiListen,
            tls: operatorAPI.isTLS
        )
        if let auth = operatorAPI.console {
            let pages = try ConsoleRoutes(api: operatorAPI, pipeline: commands, signIn: PasskeySignIn(auth: auth))
            operatorAPI.routeExtensions.append { router in pages.register(on: router) }
        }
        let api = operatorAPI.application(
            host: apiListen.host,
            port: apiListen.port,
            logger: logger
        ) { [console = operatorAPI.console, originGiven = self.console.origin != nil, scheme] port in
            try? ConsoleOptions.bind(console, originGiven: originGiven, scheme: scheme, port: port)
            announce("gateway: operator API on \(scheme)://\(HostPort(host: apiListen.host, port: port))")
            fflush(nil)
            // Every listener is bound: a `Type=notify` unit counts as started now.
            SystemdNotify.send("READY=1")
        }
        var checkpoints = CheckpointTimer(
            log: commands.audit,
            interval: durations.checkpoint,
            logger: logger
        )
        if let leases {
            // The whole fence, database included: a node that woke from a pause must not sign
            // beside the node that took the role over meanwhile.
            checkpoints.signsForCluster = {
                if case .granted = await leases.fence(.role("checkpoint")) { return true }
                return false
            }
        }
        let metrics = try await self.productMetrics(
            commands: commands,
            factory: configuration.metrics.factory,
            logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            // Shut down in reverse order: the API first, then the reads it recorded, then the
            // gateway's sessions, and last the checkpoint that covers everything they wrote.
            .init(service: metrics, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: checkpoints, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: server, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: reads, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: api, failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if let leases {
            // First in the group, so the last to stop: the shutdown checkpoint is signed while
            // this node still holds the role, and its pumps are released once their sessions ended.
            services.insert(
                .init(service: LeaseService(keeper: leases), failureTerminationBehavior: .gracefullyShutdownGroup),
                at: 0
            )
            if let url = try AuditStateDirectory(path: self.stateDir).binding() {
                services.append(
                    .init(
                        service: NotificationService.queues(url: url, commands: commands, logger: logger),
                        failureTerminationBehavior: .gracefullyShutdownGroup
                    )
                )
                services.append(
                    .init(
                        service: NotificationService.lockouts(url: url, commands: commands, logger: logger),
                        failureTerminationBehavior: .gracefullyShutdownGroup
                    )
                )
            }
        }
        if let stream = try self.syslog.service(
            log: commands.audit,
            stateDirectory: self.stateDir,
            metrics: configuration.metrics.factory,
            logger: logger
        ) {
            // First in the group, so the last to stop: it records what settled after the others wrote.
            services.insert(.init(service: stream, failureTerminationBehavior: .gracefullyShutdownGroup), at: 0)
        }
        if let metricsListen = self.metricsListen.flatMap(HostPort.init) {
            let metricsOnly = operatorAPI.metricsApplication(
                host: metricsListen.host,
                port: metricsListen.port,
                logger: logger
            ) { port in
                announce("gateway: metrics on http://\(HostPort(host: metricsListen.host, port: port))/metrics")
                fflush(nil)
            }
            services.append(.init(service: metricsOnly, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        // Last in the group, so the first told of a graceful shutdown (contrib/systemd).
        services.append(.init(service: SystemdStopping(), failureTerminationBehavior: .gracefullyShutdownGroup))
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw GatewayStartError(
                "cannot listen on \(apiListen) (--api-listen)\(self.metricsListen.map { " or \($0) (--metrics-listen)" } ?? ""): "
                    + "address already in use; choose another port"
            )
        }
    }

    /// The scrape token from --metrics-token-file: one line, mode 0600 (it is a secret).
    private func metricsToken() throws -> String? {
        guard let path = self.metricsTokenFile else { return nil }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ValidationError("--metrics-token-file \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw ValidationError(
                "--metrics-token-file \(path) is readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it"
            )
        }
        let token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.utf8.count >= 16, !token.contains(where: \.isWhitespace) else {
            throw ValidationError("--metrics-token-file \(path) must hold one token of at least 16 characters")
        }
        return token
    }

    /// The witnesses' cosignature route (docs/witness.md). Served even when the gateway trusts no
    /// witness, answering 403 `unknown_witness` naming --witness-key: the API's routes are the same
    /// whatever the configuration, as its OpenAPI document says (Schemathesis found the route
    /// answering 404 when it was registered only with a witness key).
    private func cosignatureRoutes(log: AuditLog) throws -> CosignatureRoutes {
        let witnesses = try self.witnessKeys.map { key in
            do {
                return try CosignatureVerifier(verifierKey: key)
            } catch let error as WitnessError {
                throw ValidationError("--witness-key: \(error.reason)")
            }
        }
        return CosignatureRoutes(
            store: CosignatureStore(stateDirectory: self.stateDir),
            witnesses: witnesses,
            checkpointNote: { size in try await log.store.checkpoints().first { $0.size == size }?.note }
        )
    }
}

/// A line for people and scripts on stdout (`gateway: listening …`); a JSON record under
/// `--log-format json` (``LogFormat/announce(_:label:level:stream:)``).
func announce(_ text: String) {
    LogFormat.announce(text, label: "medtunnel")
}

// `--log-format xml` is refused by the parser, naming text and json.
extension LogFormat: ExpressibleByArgument {}

// `--log-level verbose` is refused by the parser, naming the levels, instead of falling back.
extension Logger.Level: @retroactive ExpressibleByArgument {}

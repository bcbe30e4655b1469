public import AnomalyRules
public import CommandPipeline
public import Foundation
public import GatewayTLS
public import Logging
public import MedTunnelPKI
public import NIOCore
import NIOPosix
public import SecurityEvents
import Synchronization
public import TelemetryStore
public import TherapyModel

/// A host and port to listen on or connect to, parsed from `HOST:PORT` (IPv6 as `[::1]:PORT`).
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}

/// The gateway process: terminates pump TLS, directly over TCP or inside a phone relay's
/// uplink (one HTTP/2 stream per pump), keeps the registries of pumps and phones, and stores
/// telemetry under its state directory (`gateway.sqlite`), or in the database it is attached to.
///
/// With a command pipeline (``open(configuration:logger:group:)`` opens it under the state
/// directory and recovers it before anything is served), each pump session is the pipeline's
/// way to its pump, the pipeline's security events join the registry's, and ``run()`` runs the
/// pipeline's workers beside the sessions.
///
/// A swift-service-lifecycle `Service`: ``run()`` waits for graceful shutdown, then stops
/// accepting, closes every session with close_notify and flushes the telemetry store.
public final class GatewayServer: Sendable {
    public struct Configuration: Sendable {
        public var pki: PKIDirectory
        public var stateDirectory: String
        public var pumpListen: HostPort?
        public var relayListen: HostPort?
        /// A pump session that sends nothing for this long is closed (heartbeats count).
        public var pumpIdleTimeout: TimeAmount = .seconds(120)
        /// A phone uplink with no pump stream that sends nothing (not even a PING) for this
        /// long is closed; nil keeps idle uplinks open.
        public var uplinkIdleTimeout: TimeAmount? = .seconds(300)
        /// How long graceful shutdown waits for sessions and uplinks to close.
        public var shutdownTimeout: TimeAmount = .seconds(5)
        /// Where the gateway's counters go (swift-metrics); no-op by default.
        public var metrics = GatewayMetrics()
        /// The command pipeline's settings (``open(configuration:logger:group:)``).
        public var commandPipeline = CommandPipeline.Configuration()
        /// The rules over security events (`--rules FILE`; the built-in ones by default).
        public var rules: RuleSet = .defaults
        /// Where alerts are POSTed as JSON (`--alert-webhook URL`).
        public var alertWebhook: URL?

        public init(pki: PKIDirectory, stateDirectory: String, pumpListen: HostPort?, relayListen: HostPort? = nil) {
            self.pki = pki
            self.stateDirectory = stateDirectory
            self.pumpListen = pumpListen
            self.relayListen = relayListen
        }
    }

    public let configuration: Configuration
    public let registry: PumpRegistry
    public let phones = PhoneRegistry()
    /// `STATE/gateway.sqlite`, or the attached database's tables: pumps and their telemetry.
    public let store: TelemetryStore
    /// The inner TLS: pump ↔ gateway, the same whichever way the pump's bytes arrive.
    public let pumpTLS: GatewayTLSContext
    /// The outer TLS: phone relay ↔ gateway.
    public let phoneTLS: GatewayTLSContext
    /// The setting-change pipeline the pump sessions deliver for; nil: sessions take no commands.
    public let commands: CommandPipeline?
    /// Security events and alerts, durable in the audit log (with a command pipeline).
    public let events: SecurityEventRecorder?
    /// The PKI's revocation list, consulted at every handshake and watched for live sessions.
    let revocations: RevocationListFile
    /// How often the revocation list is checked for live sessions to close.
    public static let revocationCheckInterval: Duration = .milliseconds(100)
    let logger: Logger
    let group: any EventLoopGroup
    /// The bound listeners, closed first at shutdown.
    private let listeners = Mutex<[any Channel]>([])

    /// The gateway of a state directory with its command pipeline: audit log, accounts, token
    /// key, change requests (`CommandPipeline.open`), recovered from the audit log before the
    /// gateway exists, so nothing is served from a store out of step with the log.
    /// `commandClock` is the pipeline's time (the system clock; tests may set their own).
    public static func open(
        configuration: Configuration,
        logger: Logger,
        group: any EventLoopGroup,
        commandClock: @escaping @Sendable () -> Timestamp = CommandPipeline.wallClock
    ) async throws -> GatewayServer {
        try configuration.pki.checkGatewayFolder()
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        let commands = try await CommandPipeline.open(
            stateDirectory: configuration.stateDirectory,
            pki: configuration.pki,
            configuration: configuration.commandPipeline,
            logger: logger,
            clock: commandClock
        )
        let report = try await commands.recover()
        logger.info(
            "command pipeline recovered",
            metadata: [
                "rolled_forward": "\(report.rolledForward.count)", "uncertain": "\(report.markedUncertain.count)",
                "unfinished": "\(report.unfinished.count)", "problems": "\(report.problems.count)",
            ]
        )
        let recorder = try await Self.openRecorder(configuration: configuration, commands: commands, logger: logger)
        // A state directory bound to a shared database: every node's telemetry, there.
        let telemetry: TelemetryStore
        do {
            telemetry = try await TelemetryStore.forStateDirectory(configuration.stateDirectory)
        } catch {
            throw GatewayStartupError(
                "cannot open the telemetry store of \(configuration.stateDirectory): \(error). Check that the directory is writable and not used by another gateway"
            )
        }
        let server = try GatewayServer(
            configuration: configuration,
            logger: logger,
            group: group,
            commands: commands,
            events: recorder,
            telemetry: telemetry
        )
        let phones = server.phones
        let registry = server.registry
        await commands.observeLockedOutPhones { lockedOut in
            let closed = phones.shutOut(lockedOut, reason: "phone lockout")
            for _ in 0..<closed { registry.metrics.uplinkClosed(reason: "lockout") }
            if closed > 0 {
                logger.notice("phone lockout: uplinks closed", metadata: ["uplinks": "\(closed)"])
            }
        }
        return server
    }

    /// Closes, within ``revocationCheckInterval``, the live session of every pump and the uplinks
    /// of every phone that the revocation list names (a revocation bites on live sessions, not
    /// only at the next handshake). Runs until cancelled.
    public func watchRevocations() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: Self.revocationCheckInterval)
            } catch {
                return
            }
            guard let list = self.revocations.current() else { continue }
            var phones: Set<String> = []
            for identity in list.revoked {
                switch identity {
                case .phone(let id):
                    phones.insert(id)
                case .pump(let serial):
                    guard self.registry.closeSession(serial: serial) else { continue }
                    self.registry.metrics.sessionClosed(reason: "revoked")
                    self.logger.warning("revoked pump: its live session is closed", metadata: ["device": "\(serial)"])
                    self.registry.record(
                        SecurityEvent(
                            timeMilliseconds: Int64(Date().timeIntervalSince1970 * 1000),
                            kind: "revoked_session_closed",
                            device: serial,
                            detail: "pump \(serial) was revoked while connected; its session is closed",
                            carrier: nil,
                            reason: "certificateRevoked"
                        )
                    )
                }
            }
            let closed = self.phones.shutOut(phones, reason: "certificate revoked")
            for _ in 0..<closed { self.registry.metrics.uplinkClosed(reason: "revoked") }
            if closed > 0 {
                self.logger.warning("revoked phone: its uplinks are closed", metadata: ["uplinks": "\(closed)"])
            }
        }
    }

    public init(
        configuration: Configuration,
        logger: Logger,
        group: any EventLoopGroup,
        commands: CommandPipeline? = nil,
        events: SecurityEventRecorder? = nil,
        telemetry: TelemetryStore? = nil
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.group = group
        self.commands = commands
        self.events = events
        let pki = configuration.pki
        // Before anything is read: a folder with a CA key or a device key must not run at all.
        try pki.checkGatewayFolder()
        func read(_ url: URL) throws -> String {
            do {
                return try String(contentsOf: url, encoding: .utf8)
            } catch {
                throw GatewayStartupError(
                    "cannot read \(url.path): \(error.localizedDescription). Create the PKI with `medtunnel pki init --dir PKI` and run with --pki PKI/gateway"
                )
            }
        }
        let revocations = RevocationListFile(directory: pki)
        self.revocations = revocations
        self.pumpTLS = try GatewayTLSContext(
            .pumpServer(
                trustRootsPEM: try read(pki.caCertificate),
                certificateChainPEM: try read(pki.gatewayCertificate),
                privateKeyPEM: try read(pki.gatewayKey)
            ),
            isRevoked: { revocations.isRevoked($0) }
        )
        self.phoneTLS = try GatewayTLSContext(
            .phoneServer(
                trustRootsPEM: try read(pki.caCertificate),
                certificateChainPEM: try read(pki.gatewayCertificate),
                privateKeyPEM: try read(pki.gatewayKey)
            ),
            isRevoked: { revocations.isRevoked($0) }
        )
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        if let telemetry {
            self.store = telemetry
        } else if TelemetryStore.isBound(configuration.stateDirectory) {
            // Never gateway.sqlite beside a shared log: the other nodes would not see it.
            throw GatewayStartupError(
                "\(configuration.stateDirectory) is bound to a database: open the gateway with GatewayServer.open, which opens its telemetry there"
            )
        } else {
            do {
                self.store = try TelemetryStore(directory: configuration.stateDirectory)
            } catch {
                throw GatewayStartupError(
                    "cannot open the telemetry store in \(configuration.stateDirectory): \(error). Check that the directory is writable and not used by another gateway"
                )
            }
        }
        self.registry = PumpRegistry(store: self.store, metrics: configuration.metrics)
        if let events {
            self.connect(events)
        } else if let commands {
            let registry = self.registry
            commands.observeSecurityEvents { event in registry.record(Self.registryEvent(event)) }
        }
    }

    /// Binds the pump listener. Returns the bound channel (its local address has the real port).
    public func bindPumpListener(_ address: HostPort) async throws -> any Channel {
        let sessions = self.pumpSessions
        return try await self.bind(address) { channel in
            channel.eventLoop.makeCompletedFuture {
                let remote = describe(channel.remoteAddress)
                try sessions.install(on: channel.pipeline.syncOperations, carrier: "direct \(remote)")
            }
        }
    }

    /// Binds the listener for phone relays: outer TLS 1.3 with the phone's certificate, then
    /// HTTP/2, each stream one pump's inner tunnel. Returns the bound channel.
    public func bindRelayListener(_ address: HostPort) async throws -> any Channel {
        let context = self.phoneTLS
        let sessions = self.pumpSessions
        let phones = self.phones
        let idle = self.configuration.uplinkIdleTimeout
        return try await self.bind(address) { channel in
            channel.eventLoop.makeCompletedFuture {
                let remote = describe(channel.remoteAddress)
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(try GatewayTLSHandler(context: context))
                if let idle { try sync.addHandler(IdleStateHandler(readTimeout: idle)) }
                try sync.addHandler(RelayUplinkSessionHandler(sessions: sessions, phones: phones, remote: remote))
            }
        }
    }

    var pumpSessions: PumpSessionInstaller {
        PumpSessionInstaller(
            context: self.pumpTLS,
            registry: self.registry,
            logger: self.logger,
            commands: self.commands,
            idleTimeout: self.configuration.pumpIdleTimeout,
            clock: { Int64(Date().timeIntervalSince1970 * 1000) }
        )
    }

    private func bind(
        _ address: HostPort,
        childInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any Channel {
        let channel = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer(childInitializer)
            .bind(host: address.host, port: address.port)
            .get()
        self.listeners.withLock { $0.append(channel) }
        return channel
    }

    /// The bound listeners, forgotten here (shutdown closes them).
    func takeListeners() -> [any Channel] {
        self.listeners.withLock { listeners in
            defer { listeners = [] }
            return listeners
        }
    }
}

/// Builds one pump's inner session on a channel that carries the pump's raw TLS bytes: a
/// TCP connection (direct) or an HTTP/2 stream of a phone's uplink (relayed). Both paths use
/// exactly this, so a relayed pump gets the same TLS profile, checks and registry.
struct PumpSessionInstaller: Sendable {
    let context: GatewayTLSContext
    let registry: PumpRegistry
    let logger: Logger
    let commands: (any PumpSessionObserver)?
    let idleTimeout: TimeAmount
    let clock: @Sendable () -> Int64

    /// `carrier` names how the bytes came: `direct ADDRESS` or `phone ID`.
    func install(on pipeline: ChannelPipeline.SynchronousOperations, carrier: String) throws {
        try pipeline.addHandler(try GatewayTLSHandler(context: self.context))
        try pipeline.addHandler(IdleStateHandler(readTimeout: self.idleTimeout))
        try pipeline.addHandler(
            PumpSessionHandler(
                registry: self.registry,
                logger: self.logger,
                carrier: carrier,
                commands: self.commands,
                clock: self.clock
            )
        )
    }

    /// Records a security event now.
    func record(_ kind: String, device: String?, _ detail: String, carrier: String?, reason: String? = nil) {
        self.registry.record(
            SecurityEvent(
                timeMilliseconds: self.clock(),
                kind: kind,
                device: device,
                detail: detail,
                carrier: carrier,
                reason: reason
            )
        )
    }
}

/// `127.0.0.1:5000` or `[::1]:5000` (NIO's own description adds the family and repeats the host).
func describe(_ address: SocketAddress?) -> String {
    guard let address, let ip = address.ipAddress, let port = address.port else {
        return address?.description ?? "?"
    }
    return HostPort(host: ip, port: port).description
}

public struct GatewayStartupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

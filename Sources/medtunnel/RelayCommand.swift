import ArgumentParser
import Foundation
import Gateway
import GatewayTLS
import LogFormat
import Logging
import MedTunnelIdentity
import MedTunnelPKI
import NIOCore
import NIOPosix
import RelayCore
import RelayHostility

struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Run a phone relay: carries pump links to the gateway as ciphertext, never decrypting them."
    )

    @Option(
        name: .customLong("state-dir"),
        help: "The phone's own storage: its key DIR/ID.key (0600, born there, never exported), DIR/ID.pem, DIR/ca.pem."
    )
    var stateDirectory: String
    @Option(name: .customLong("phone-id"), help: "The phone id (its key and certificate are STATE-DIR/ID.key, .pem).")
    var phoneID: String
    @Option(help: "HOST:PORT of the gateway's relay listener (`medtunnel gateway --relay-listen`).") var gateway:
        String?
    @Option(help: ArgumentHelp("Write the phone's certificate signing request to FILE and exit.", valueName: "file"))
    var csr: String?
    @Option(
        help: ArgumentHelp(
            "Install the certificate `pki sign-phone` made, with --trust's ca.pem, and exit.",
            valueName: "cert"
        )
    )
    var install: String?
    @Option(
        help: ArgumentHelp("With --install: the gateway folder (PKI/gateway) whose ca.pem to trust.", valueName: "dir")
    )
    var trust: String?
    @Option(
        name: .customLong("enroll-with"),
        help: ArgumentHelp(
            "Simulator convenience: enroll the phone with the PKI root PKI in this process if it is not enrolled yet.",
            valueName: "pki"
        )
    )
    var enrollWith: String?
    @Option(help: .hidden) var pki: String?
    @Option(help: "HOST:PORT where pumps connect (port 0 picks a free one).") var listen = "127.0.0.1:7444"
    @Option(name: .customLong("server-name"), help: "The gateway host name to verify (default: the --gateway host).")
    var serverName: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info
    @Option(name: .customLong("log-format"), help: "text, or json: one JSON object per line (docs/logging.md).")
    var logFormat: LogFormat = .text
    @Option(
        help: ArgumentHelp(
            "Demos and tests only: tamper with the pump links as a hostile phone would.",
            discussion: """
                SPEC is a comma-separated list of behaviours with rates and the options that target them; \
                ';' starts a group with its own targets. Behaviours: drop[=RATE], delay=TIME[@RATE], \
                duplicate[=RATE], reorder[=RATE], flip[=RATE], truncate[=RATE], truncate-at=BYTES, \
                inject[=RATE], splice=LINK[@RATE], replay. Options: link=N, records=app|handshake|all, \
                min-bytes=N, after=K, count=K, dir=up|down|both. Named: chaos. Example: 'flip=0.01,drop=0.001;delay=50ms,link=2'.
                """,
            valueName: "SPEC"
        )
    )
    var hostile: String?
    @Option(name: .customLong("hostile-seed"), help: "Seed of the hostile choices (the same seed repeats a run).")
    var hostileSeed: UInt64 = 1
    @OptionGroup var configFile: ConfigFileOption

    func validate() throws {
        if self.pki != nil {
            throw ValidationError(
                "relay no longer takes --pki: the phone keeps its key, certificate and CA in its own --state-dir. "
                    + "Enroll it with --enroll-with PKI (the PKI root), or --csr FILE, `medtunnel pki sign-phone`, "
                    + "then --install CERT --trust PKI/gateway"
            )
        }
        if self.install != nil, self.trust == nil {
            throw ValidationError("--install needs --trust PKI/gateway: the folder whose ca.pem to trust")
        }
        if self.csr == nil, self.install == nil, self.gateway == nil {
            throw ValidationError("give --gateway HOST:PORT (the gateway's relay listener)")
        }
    }

    func run() async throws {
        let identity = DeviceIdentity.phone(id: self.phoneID)
        if try provisioningStep(
            identity: identity,
            stateDirectory: self.stateDirectory,
            csr: self.csr,
            install: self.install,
            trust: self.trust
        ) {
            return
        }
        let logger = self.logFormat.bootstrap(label: "medtunnel.relay", level: self.logLevel)
        guard let gateway = HostPort(self.gateway ?? "") else {
            throw ValidationError("--gateway '\(self.gateway ?? "")' is not HOST:PORT")
        }
        guard let listen = HostPort(self.listen) else {
            throw ValidationError("--listen '\(self.listen)' is not HOST:PORT")
        }
        let store = DeviceStore(directory: self.stateDirectory, identity: identity)
        if let root = self.enrollWith { try store.enroll(with: PKILayout(root: root)) }
        let credentials = try store.credentials()
        let tls = try GatewayTLSContext(
            .phoneClient(
                trustRootsPEM: credentials.caCertificatePEM,
                certificateChainPEM: credentials.certificatePEM,
                privateKeyPEM: credentials.privateKeyPEM,
                gatewayHost: self.serverName ?? gateway.host
            )
        )
        // One thread: the uplink, its streams and every pump link share one event loop.
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        var configuration = PhoneRelay.Configuration(tls: tls, gatewayHost: gateway.host, gatewayPort: gateway.port)
        if let text = self.hostile {
            let spec: HostilitySpec
            do {
                spec = try HostilitySpec(parsing: text)
            } catch {
                throw ValidationError("--hostile: \(error.reason)")
            }
            let hostile = HostileRelay(spec: spec, seed: self.hostileSeed, eventLoop: eventLoop, logger: logger)
            configuration.interposer = { link, openStream in try hostile.install(on: link, openStream: openStream) }
            announce(
                "relay: HOSTILE (\(text), seed \(self.hostileSeed)): it will tamper with the pump links it carries"
            )
        }
        let relay = PhoneRelay(configuration: configuration, eventLoop: eventLoop, logger: logger)
        let uplink: any Channel
        do {
            uplink = try await relay.connectUplink()
        } catch {
            throw RelayCommandFailure("the gateway at \(gateway) did not accept phone \(self.phoneID): \(error)")
        }
        let listening = try await relay.listen(TCPPumpLinkListener(host: listen.host, port: listen.port))
        announce("relay: listening for pumps on \(listening.address)")
        fflush(nil)
        // Runs until the process is stopped: a lost uplink is reconnected with backoff.
        await relay.keepUplink(after: uplink)
    }
}

struct RelayCommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

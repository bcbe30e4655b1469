import ArgumentParser
import Foundation
import Gateway
import GatewayTLS
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

    @Option(help: "The PKI directory (the CA and the phone's certificate).") var pki: String
    @Option(name: .customLong("phone-id"), help: "The phone id (its certificate is DIR/phones/ID.pem).")
    var phoneID: String
    @Option(help: "HOST:PORT of the gateway's relay listener (`medtunnel gateway --relay-listen`).") var gateway: String
    @Option(help: "HOST:PORT where pumps connect (port 0 picks a free one).") var listen = "127.0.0.1:7444"
    @Option(name: .customLong("server-name"), help: "The gateway host name to verify (default: the --gateway host).")
    var serverName: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel = "info"
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

    func run() async throws {
        let logger = makeLogger(label: "medtunnel.relay", level: self.logLevel)
        guard let gateway = HostPort(self.gateway) else {
            throw ValidationError("--gateway '\(self.gateway)' is not HOST:PORT")
        }
        guard let listen = HostPort(self.listen) else {
            throw ValidationError("--listen '\(self.listen)' is not HOST:PORT")
        }
        let directory = PKIDirectory(self.pki)
        let identity = DeviceIdentity.phone(id: self.phoneID)
        func read(_ url: URL, _ what: String) throws -> String {
            do {
                return try String(contentsOf: url, encoding: .utf8)
            } catch {
                throw ValidationError(
                    "cannot read the \(what) \(url.path): \(error.localizedDescription). "
                        + "Issue it with `medtunnel pki issue-phone --dir \(self.pki) --id \(self.phoneID)`"
                )
            }
        }
        let tls = try GatewayTLSContext(
            .phoneClient(
                trustRootsPEM: try read(directory.caCertificate, "CA certificate"),
                certificateChainPEM: try read(directory.certificate(for: identity), "phone certificate"),
                privateKeyPEM: try read(directory.key(for: identity), "phone key"),
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
            print("relay: HOSTILE (\(text), seed \(self.hostileSeed)): it will tamper with the pump links it carries")
        }
        let relay = PhoneRelay(configuration: configuration, eventLoop: eventLoop, logger: logger)
        let uplink: any Channel
        do {
            uplink = try await relay.connectUplink()
        } catch {
            throw RelayCommandFailure("the gateway at \(gateway) did not accept phone \(self.phoneID): \(error)")
        }
        let listening = try await relay.listen(TCPPumpLinkListener(host: listen.host, port: listen.port))
        print("relay: listening for pumps on \(listening.address)")
        fflush(nil)
        // Runs until the process is stopped: a lost uplink is reconnected with backoff.
        await relay.keepUplink(after: uplink)
    }
}

struct RelayCommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

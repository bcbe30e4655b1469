import ArgumentParser
import Foundation
import Gateway
import Logging
import MedTunnelPKI
import NIOCore
import NIOPosix

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Run the gateway: terminates each pump's inner TLS and keeps the registry of pumps."
    )

    @Option(help: "The PKI directory (from `medtunnel pki init`).") var pki: String
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
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel = "info"

    func run() async throws {
        let logger = makeLogger(label: "medtunnel.gateway", level: self.logLevel)
        guard let listen = self.pumpListen.map({ HostPort($0) }) ?? HostPort("127.0.0.1:7443") else {
            throw ValidationError("--pump-listen '\(self.pumpListen ?? "")' is not HOST:PORT")
        }
        let relayListen = try self.relayListen.map { text in
            guard let address = HostPort(text) else {
                throw ValidationError("--relay-listen '\(text)' is not HOST:PORT")
            }
            return address
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try GatewayServer(
            configuration: .init(
                pki: PKIDirectory(self.pki),
                stateDirectory: self.stateDir,
                pumpListen: listen,
                relayListen: relayListen
            ),
            logger: logger,
            group: group
        )
        let channel = try await server.bindPumpListener(listen)
        let port = channel.localAddress?.port ?? listen.port
        // One line on stdout per listener, which scripts and tests wait for.
        print("gateway: listening for pumps on \(listen.host):\(port)")
        var relayChannel: (any Channel)?
        if let relayListen {
            let relay = try await server.bindRelayListener(relayListen)
            relayChannel = relay
            print(
                "gateway: listening for relays on \(relayListen.host):\(relay.localAddress?.port ?? relayListen.port)"
            )
        }
        fflush(nil)
        try await channel.closeFuture.get()
        try await relayChannel?.closeFuture.get()
    }
}

func makeLogger(label: String, level: String) -> Logger {
    LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
    var logger = Logger(label: label)
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}

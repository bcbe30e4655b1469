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
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel = "info"

    func run() async throws {
        let logger = makeLogger(label: "medtunnel.gateway", level: self.logLevel)
        guard let listen = self.pumpListen.map({ HostPort($0) }) ?? HostPort("127.0.0.1:7443") else {
            throw ValidationError("--pump-listen '\(self.pumpListen ?? "")' is not HOST:PORT")
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try GatewayServer(
            configuration: .init(pki: PKIDirectory(self.pki), stateDirectory: self.stateDir, pumpListen: listen),
            logger: logger,
            group: group
        )
        let channel = try await server.bindPumpListener(listen)
        let port = channel.localAddress?.port ?? listen.port
        // One line on stdout that scripts and tests wait for.
        print("gateway: listening for pumps on \(listen.host):\(port)")
        fflush(nil)
        try await channel.closeFuture.get()
    }
}

func makeLogger(label: String, level: String) -> Logger {
    LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
    var logger = Logger(label: label)
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}

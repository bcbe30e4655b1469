import Foundation
public import GatewayTLS
public import Logging
public import MedTunnelPKI
public import NIOCore
import NIOPosix

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

/// The gateway process: terminates pump TLS (directly over TCP for now), keeps the registry.
public final class GatewayServer: Sendable {
    public struct Configuration: Sendable {
        public var pki: PKIDirectory
        public var stateDirectory: String
        public var pumpListen: HostPort?

        public init(pki: PKIDirectory, stateDirectory: String, pumpListen: HostPort?) {
            self.pki = pki
            self.stateDirectory = stateDirectory
            self.pumpListen = pumpListen
        }
    }

    public let configuration: Configuration
    public let registry = PumpRegistry()
    public let pumpTLS: GatewayTLSContext
    private let logger: Logger
    private let group: any EventLoopGroup

    public init(configuration: Configuration, logger: Logger, group: any EventLoopGroup) throws {
        self.configuration = configuration
        self.logger = logger
        self.group = group
        let pki = configuration.pki
        func read(_ url: URL) throws -> String {
            do {
                return try String(contentsOf: url, encoding: .utf8)
            } catch {
                throw GatewayStartupError(
                    "cannot read \(url.path): \(error.localizedDescription). Create the PKI with `medtunnel pki init --dir \(pki.root.path)`"
                )
            }
        }
        let revocations = RevocationListFile(directory: pki)
        self.pumpTLS = try GatewayTLSContext(
            .pumpServer(
                trustRootsPEM: try read(pki.caCertificate),
                certificateChainPEM: try read(pki.gatewayCertificate),
                privateKeyPEM: try read(pki.gatewayKey)
            ),
            isRevoked: { revocations.isRevoked($0) }
        )
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
    }

    /// Binds the pump listener. Returns the bound channel (its local address has the real port).
    public func bindPumpListener(_ address: HostPort) async throws -> any Channel {
        let context = self.pumpTLS
        let registry = self.registry
        let logger = self.logger
        return try await ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let remote = channel.remoteAddress?.description ?? "?"
                    try channel.pipeline.syncOperations.addHandler(try GatewayTLSHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(
                        PumpSessionHandler(
                            registry: registry,
                            logger: logger,
                            carrier: "direct \(remote)",
                            clock: { Int64(Date().timeIntervalSince1970 * 1000) }
                        )
                    )
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }
}

public struct GatewayStartupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

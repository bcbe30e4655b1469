public import AuditSyslog
import Foundation
public import GatewayTLS
public import NIOCore
import NIOPosix

/// Where the stream goes: a syslog collector reached over TLS (RFC 5425), its certificate checked
/// against the operator's CA file and the collector's host name or address. The gateway presents
/// no certificate of its own.
public struct SyslogCollector: Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    let tls: GatewayTLSContext

    /// Reads `caFile` (PEM, one or more CA certificates). Throws `.invalidCA` naming the file when
    /// it cannot be read or holds no certificate OpenSSL accepts, `.invalidCollector` for a port
    /// outside 1...65535.
    public init(host: String, port: Int, caFile: String) throws(SyslogError) {
        guard (1...65_535).contains(port), !host.isEmpty else {
            throw SyslogError(.invalidCollector, "\(host):\(port) is not HOST:PORT with a port of 1...65535")
        }
        let pem: String
        do {
            pem = try String(contentsOfFile: caFile, encoding: .utf8)
        } catch {
            throw SyslogError(.invalidCA, "\(caFile) cannot be read (\(Self.explain(error))); give a readable PEM file")
        }
        guard pem.contains("-----BEGIN CERTIFICATE-----") else {
            throw SyslogError(.invalidCA, "\(caFile) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        do {
            self.tls = try GatewayTLSContext(.syslogClient(trustRootsPEM: pem, collectorHost: host))
        } catch {
            throw SyslogError(.invalidCA, "\(caFile) was refused as a CA certificate: \(error)")
        }
        self.host = host
        self.port = port
    }

    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }

    /// Connects and completes the TLS handshake (the collector's certificate verified). The
    /// channel's `closeFuture` completes when the collector goes away.
    func connect(group: any EventLoopGroup, timeout: TimeAmount) async throws -> any Channel {
        let established = group.next().makePromise(of: Void.self)
        let tls = self.tls
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(try GatewayTLSHandler(context: tls))
                        try channel.pipeline.syncOperations.addHandler(CollectorHandler(established: established))
                    }
                }
                .connect(host: self.host, port: self.port)
                .get()
        } catch {
            established.fail(error)
            throw error
        }
        do {
            try await established.futureResult.get()
        } catch {
            try? await channel.close()
            throw error
        }
        return channel
    }

    private static func explain(_ error: any Error) -> String {
        let reason = (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
        return reason
    }
}

/// Above the TLS handler: reports the end of the handshake (or its failure) and discards what the
/// collector sends, which RFC 5425 says is nothing. Errors close the channel; the service sees
/// the channel inactive and reconnects.
final class CollectorHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let established: EventLoopPromise<Void>

    init(established: EventLoopPromise<Void>) { self.established = established }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .established? = event as? GatewayTLSEvent {
            self.established.succeed()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A promise completes once: after the handshake, these are no-ops.
        self.established.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.established.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension CollectorHandler: Sendable {}

public import NIOCore
import NIOPosix

/// Where pump links come from. A link is a NIO channel carrying the pump's raw bytes both
/// ways (`ByteBuffer` in and out): a TCP connection in simulation; a serial line later (a
/// `NIOPipeBootstrap` over the tty's file descriptor fits the same shape).
public protocol PumpLinkListener: Sendable {
    /// Starts accepting links. Every link's channel must live on `eventLoop`: the relay copies
    /// bytes between a link and its uplink stream without hopping threads. `initialize` runs
    /// on each new link before its first byte is read and installs the relay's handlers.
    func start(
        on eventLoop: any EventLoop,
        initialize: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> PumpLinkListening
}

/// A running listener: close `channel` to stop accepting links.
public struct PumpLinkListening: Sendable {
    public let channel: any Channel
    /// Where pumps reach it, e.g. `127.0.0.1:7444` (the real port when 0 was asked for).
    public let address: String

    public init(channel: any Channel, address: String) {
        self.channel = channel
        self.address = address
    }
}

/// Pump links over TCP (simulation): one connection is one link.
public struct TCPPumpLinkListener: PumpLinkListener {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public func start(
        on eventLoop: any EventLoop,
        initialize: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> PumpLinkListening {
        let channel = try await ServerBootstrap(group: eventLoop, childGroup: eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 64)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(
                .writeBufferWaterMark,
                value: .init(low: RelayLimits.linkWriteLowWatermark, high: RelayLimits.linkWriteHighWatermark)
            )
            .childChannelOption(
                .recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2_048, maximum: RelayLimits.linkReadSize)
            )
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelInitializer(initialize)
            .bind(host: self.host, port: self.port)
            .get()
        let port = channel.localAddress?.port ?? self.port
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return PumpLinkListening(channel: channel, address: "\(host):\(port)")
    }
}

import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy on 127.0.0.1 that the test controls, for the network failures real deployments
/// see between a gateway and what it talks to (its database, another node):
///
/// - ``cut()``: every forwarded connection is closed at once, both sides, and new connections
///   are accepted and closed straight away until ``restore()``: a peer that went away.
/// - ``blackhole()``: connections stay open but every byte, both ways, is silently dropped, and
///   new connections are accepted and get nothing (the target never sees them): a partition
///   where TCP stays up and only timeouts and keepalives can notice, the nasty case for a
///   database connection.
/// - ``restore()``: new connections are forwarded again. A connection that was blackholed stays
///   blackholed until an end closes it: bytes were lost on it, and forwarding again would hand
///   its peer a corrupted stream, which no real network does.
///
/// Each accepted connection is forwarded to the target over a connection of its own, with
/// back-pressure (a side reads only while the other can write) and half-closes passed on.
/// Everything runs on one event loop, so a change of mode is in force for every byte read
/// after the call returns.
public final class TCPCutProxy: Sendable {
    /// What the proxy does with bytes and new connections.
    public enum Mode: Sendable, Equatable {
        case forwarding
        case cut
        case blackhole
    }

    /// Where the proxy listens on 127.0.0.1: what the client under test connects to.
    public var port: Int { self.core.port.load(ordering: .relaxed) }
    public var targetHost: String { self.core.targetHost }
    public var targetPort: Int { self.core.targetPort }

    /// Connections accepted since start, in every mode.
    public var connectionsAccepted: Int { self.core.accepted.load(ordering: .relaxed) }
    /// Bytes written on to the other side, both directions together.
    public var bytesForwarded: Int { self.core.forwarded.load(ordering: .relaxed) }
    /// Bytes read and dropped by a blackhole, both directions together.
    public var bytesDropped: Int { self.core.dropped.load(ordering: .relaxed) }
    /// Accepted connections not closed yet.
    public var openConnections: Int { self.core.open.load(ordering: .relaxed) }

    private let core: ProxyCore
    private let serverChannel: any Channel

    private init(core: ProxyCore, serverChannel: any Channel) {
        self.core = core
        self.serverChannel = serverChannel
    }

    /// Listens on 127.0.0.1 (a free port) and forwards to `targetHost:targetPort`, which must be
    /// a loopback address (tests stay on this machine).
    public static func start(targetPort: Int, targetHost: String = "127.0.0.1") async throws -> TCPCutProxy {
        guard targetHost.hasPrefix("127.") || targetHost == "::1" || targetHost == "localhost" else {
            throw TCPCutProxyError("target \(targetHost) is not loopback (tests stay on this machine)")
        }
        guard (1...65535).contains(targetPort) else { throw TCPCutProxyError("target port \(targetPort)") }
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let core = ProxyCore(eventLoop: eventLoop, targetHost: targetHost, targetPort: targetPort)
        let serverChannel = try await ServerBootstrap(group: eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try core.accept(channel) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = serverChannel.localAddress?.port else {
            try? await serverChannel.close()
            throw TCPCutProxyError("the proxy's listening socket has no port")
        }
        core.port.store(port, ordering: .relaxed)
        return TCPCutProxy(core: core, serverChannel: serverChannel)
    }

    /// Closes every connection now (both sides; returns once they are closed) and accepts and
    /// closes new ones until ``restore()``.
    public func cut() async {
        await self.core.change(to: .cut)
    }

    /// Drops every byte of every open connection, both ways, from now on, and gives new
    /// connections nothing (they are accepted, never forwarded) until ``restore()``.
    public func blackhole() async {
        await self.core.change(to: .blackhole)
    }

    /// Forwards new connections again (blackholed ones stay so).
    public func restore() async {
        await self.core.change(to: .forwarding)
    }

    /// The mode new connections get.
    public var mode: Mode {
        get async { (try? await self.core.eventLoop.submit { self.core.state.value.mode }.get()) ?? .cut }
    }

    /// Stops listening and closes every connection. Idempotent.
    public func stop() async {
        guard !self.core.stopped.exchange(true, ordering: .relaxed) else { return }
        try? await self.serverChannel.close()
        await self.core.change(to: .cut)
    }

    deinit {
        guard !self.core.stopped.exchange(true, ordering: .relaxed) else { return }
        self.serverChannel.close(promise: nil)
        let core = self.core
        core.eventLoop.execute { _ = core.closeAll() }
    }
}

/// Why a TCPCutProxy could not start.
public struct TCPCutProxyError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What the proxy's channels share: the target, counters any thread reads, and the state only
/// the event loop touches.
private final class ProxyCore: Sendable {
    let eventLoop: any EventLoop
    let targetHost: String
    let targetPort: Int
    let port = Atomic<Int>(0)
    let accepted = Atomic<Int>(0)
    let forwarded = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)
    let open = Atomic<Int>(0)
    let stopped = Atomic<Bool>(false)
    let state: NIOLoopBoundBox<ProxyState>

    init(eventLoop: any EventLoop, targetHost: String, targetPort: Int) {
        self.eventLoop = eventLoop
        self.targetHost = targetHost
        self.targetPort = targetPort
        self.state = .makeBoxSendingValue(ProxyState(), as: ProxyState.self, eventLoop: eventLoop)
    }

    /// Sets the mode on the loop and applies it to open connections; for a cut, returns once
    /// they are closed.
    func change(to mode: TCPCutProxy.Mode) async {
        let closing = try? await self.eventLoop.submit { () -> [EventLoopFuture<Void>] in
            self.state.value.mode = mode
            switch mode {
            case .forwarding: return []
            case .blackhole:
                for link in self.state.value.links.values { link.blackhole() }
                return []
            case .cut: return self.closeAll()
            }
        }.get()
        for future in closing ?? [] { try? await future.get() }
    }

    /// Closes every link (on the loop); the futures of the closes.
    func closeAll() -> [EventLoopFuture<Void>] {
        self.eventLoop.preconditionInEventLoop()
        return self.state.value.links.values.flatMap { $0.close() }
    }

    /// One of a link's channels closed: the link is forgotten once all of its are.
    private func closed(link id: Int) {
        guard let link = self.state.value.links[id] else { return }
        link.openChannels -= 1
        if link.openChannels == 0 { self.state.value.links[id] = nil }
    }

    /// A new connection from a client (on the loop, from the child channel initializer).
    func accept(_ inbound: any Channel) throws {
        self.accepted.add(1, ordering: .relaxed)
        self.open.add(1, ordering: .relaxed)
        let link = Link(inbound: inbound)
        let id = self.state.value.nextID
        self.state.value.nextID += 1
        inbound.closeFuture.whenComplete { _ in
            self.open.subtract(1, ordering: .relaxed)
            self.closed(link: id)
        }
        let mode = self.stopped.load(ordering: .relaxed) ? .cut : self.state.value.mode
        switch mode {
        case .cut:
            try inbound.pipeline.syncOperations.addHandler(CloseOnActiveHandler())
            return
        case .blackhole:
            let handler = GlueHandler(core: self)
            handler.blackholed = true
            link.handlers = [handler]
            self.state.value.links[id] = link
            try inbound.pipeline.syncOperations.addHandler(handler)
            try inbound.syncOptions?.setOption(.autoRead, value: true)
        case .forwarding:
            let (toClient, toTarget) = GlueHandler.matchedPair(core: self)
            link.handlers = [toClient, toTarget]
            self.state.value.links[id] = link
            try inbound.pipeline.syncOperations.addHandler(toClient)
            let boundTarget = NIOLoopBound(toTarget, eventLoop: self.eventLoop)
            let boundLink = NIOLoopBound(link, eventLoop: self.eventLoop)
            ClientBootstrap(group: self.eventLoop)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .connectTimeout(.seconds(2))
                .channelInitializer { outbound in
                    outbound.eventLoop.makeCompletedFuture {
                        try outbound.pipeline.syncOperations.addHandler(boundTarget.value)
                    }
                }
                .connect(host: self.targetHost, port: self.targetPort)
                .whenComplete { result in
                    let link = boundLink.value
                    switch result {
                    case .success(let outbound):
                        link.outbound = outbound
                        link.openChannels += 1
                        outbound.closeFuture.whenComplete { _ in self.closed(link: id) }
                        // Cut, or the client went while a blackhole hid it: nothing to forward.
                        if link.isClosed || self.state.value.links[id] == nil {
                            outbound.close(promise: nil)
                        } else {
                            // The client's bytes flow once the target's side is there.
                            try? link.inbound.syncOptions?.setOption(.autoRead, value: true)
                        }
                    case .failure:
                        // A target that does not answer is a closed connection to the client.
                        _ = link.close()
                    }
                }
        }
    }
}

/// The mode and the open connections: touched on the event loop only.
private final class ProxyState {
    var mode: TCPCutProxy.Mode = .forwarding
    /// Open links by a number of their own.
    var links: [Int: Link] = [:]
    var nextID = 0
}

/// A client's connection and, once connected, the proxy's connection to the target for it.
private final class Link {
    let inbound: any Channel
    var outbound: (any Channel)?
    var handlers: [GlueHandler] = []
    /// Channels not closed yet: a blackholed link lives on (and ``TCPCutProxy/cut()`` closes it)
    /// until both of its ends are closed.
    var openChannels = 1
    private(set) var isClosed = false

    init(inbound: any Channel) { self.inbound = inbound }

    func blackhole() {
        for handler in self.handlers { handler.blackholed = true }
    }

    func close() -> [EventLoopFuture<Void>] {
        self.isClosed = true
        return [self.inbound.close()] + (self.outbound.map { [$0.close()] } ?? [])
    }
}

/// Accepts, then closes at once: new connections while the proxy is cut.
private final class CloseOnActiveHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }
}

/// One side of a forwarded connection, glued to the other side's handler (both on the same
/// loop): what one reads, the other writes; one reads only while the other can write.
private final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let core: ProxyCore
    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    /// Bytes read are dropped, not forwarded.
    var blackholed = false

    init(core: ProxyCore) { self.core = core }

    static func matchedPair(core: ProxyCore) -> (GlueHandler, GlueHandler) {
        let first = GlueHandler(core: core)
        let second = GlueHandler(core: core)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        guard !self.blackholed, let partner = self.partner else {
            self.core.dropped.add(buffer.readableBytes, ordering: .relaxed)
            return
        }
        partner.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Through a blackhole, an end going away is news the other end never gets.
        guard !self.blackholed else { return }
        self.partner?.partnerClose()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, event == .inputClosed else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.inputClosed = true
        guard !self.blackholed, let partner = self.partner else { return }
        // Both ends have finished sending: nothing more can flow.
        if partner.inputClosed {
            context.close(promise: nil)
            partner.partnerClose()
        } else {
            partner.partnerCloseOutput()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
        if !self.blackholed { self.partner?.partnerClose() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if self.blackholed || self.partner?.partnerWritable ?? true {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    // MARK: Called by the partner

    private func partnerWrite(_ buffer: ByteBuffer) {
        guard let context = self.context else { return }
        if self.blackholed {
            self.core.dropped.add(buffer.readableBytes, ordering: .relaxed)
            return
        }
        self.core.forwarded.add(buffer.readableBytes, ordering: .relaxed)
        context.write(Self.wrapOutboundOut(buffer), promise: nil)
    }

    private func partnerFlush() {
        self.context?.flush()
    }

    private func partnerCloseOutput() {
        self.context?.close(mode: .output, promise: nil)
    }

    private func partnerClose() {
        self.context?.close(promise: nil)
    }

    private var partnerWritable: Bool {
        self.context?.channel.isWritable ?? false
    }

    private func partnerBecameWritable() {
        guard self.pendingRead, let context = self.context else { return }
        self.pendingRead = false
        context.read()
    }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}

public import NIOCore

/// Fired through the pipeline when the handshake completes.
public enum GatewayTLSEvent: Sendable, Equatable {
    case established(TLSPeer)
}

/// Adapts a ``GatewayTLSConnection`` to a SwiftNIO channel: ciphertext below, plaintext
/// above. Aborts a handshake that does not finish in the configured time, sends
/// close_notify when the channel is closed, and closes the channel on any TLS failure
/// (after firing the ``GatewayTLSError`` through `errorCaught`).
///
/// Writes before the handshake completes are refused: the pump protocol always waits for
/// the handshake, and buffering them would need a cap of its own.
public final class GatewayTLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let connection: GatewayTLSConnection
    private var handshakeTimer: Scheduled<Void>?
    private var closing = false

    public init(context: GatewayTLSContext, resuming session: GatewayTLSSession? = nil) throws {
        self.connection = try GatewayTLSConnection(context: context, resuming: session)
    }

    public var state: GatewayTLSConnection.State { self.connection.state }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.begin(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        self.begin(context: context)
        context.fireChannelActive()
    }

    private func begin(context: ChannelHandlerContext) {
        guard self.handshakeTimer == nil, self.connection.state == .handshaking else { return }
        let milliseconds = self.connection.context.configuration.handshakeTimeoutMilliseconds
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.handshakeTimer = context.eventLoop.scheduleTask(in: .milliseconds(milliseconds)) {
            let (handler, context) = loopBound.value
            handler.apply(handler.connection.handshakeTimedOut(), context: context)
        }
        self.apply(self.connection.start(), context: context)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        self.apply(self.connection.feed(Array(buffer.readableBytesView)), context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.handshakeTimer?.cancel()
        let output = self.connection.transportClosed()
        if let failure = output.failure { context.fireErrorCaught(failure) }
        context.fireChannelInactive()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = Self.unwrapOutboundIn(data)
        let output = self.connection.send(Array(buffer.readableBytesView))
        if let failure = output.failure {
            promise?.fail(failure)
            return
        }
        context.write(
            Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: output.ciphertext)),
            promise: promise
        )
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, !self.closing else {
            context.close(mode: mode, promise: promise)
            return
        }
        self.closing = true
        self.handshakeTimer?.cancel()
        let output = self.connection.close()
        if !output.ciphertext.isEmpty {
            context.write(
                Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: output.ciphertext)),
                promise: nil
            )
        }
        context.flush()
        context.close(mode: mode, promise: promise)
    }

    /// Executes what the engine asked for: send ciphertext, deliver events.
    private func apply(_ output: GatewayTLSOutput, context: ChannelHandlerContext) {
        if !output.ciphertext.isEmpty {
            context.writeAndFlush(
                Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: output.ciphertext)),
                promise: nil
            )
        }
        for event in output.events {
            switch event {
            case .established(let peer):
                self.handshakeTimer?.cancel()
                context.fireUserInboundEventTriggered(GatewayTLSEvent.established(peer))
            case .plaintext(let bytes):
                context.fireChannelRead(Self.wrapInboundOut(context.channel.allocator.buffer(bytes: bytes)))
            case .closedByPeer:
                self.closing = true
                context.close(promise: nil)
            case .failed(let error):
                self.handshakeTimer?.cancel()
                context.fireErrorCaught(error)
                self.closing = true
                context.close(promise: nil)
            }
        }
    }
}

@available(*, unavailable)
extension GatewayTLSHandler: Sendable {}

public import NIOCore
public import NIOHTTP2

/// Turns one HTTP/2 stream channel into a byte pipe: DATA frames in, `ByteBuffer`s up;
/// `ByteBuffer`s down, DATA frames out. Speaks the request/response of ``RelayWireFormat``
/// on either end (see ``RelayStreamStateMachine``) and closes the stream on anything out of
/// place, after firing the ``RelayFramingError`` through `errorCaught`.
public final class RelayStreamHandler: ChannelDuplexHandler {
    public typealias InboundIn = HTTP2Frame.FramePayload
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = HTTP2Frame.FramePayload

    private var stateMachine: RelayStreamStateMachine
    /// Bytes written and not yet sent; capped at ``RelayWireFormat/maximumPendingBytesPerStream``.
    private var pendingBytes = 0

    public init(role: RelayStreamStateMachine.Role) {
        self.stateMachine = RelayStreamStateMachine(role: role)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.apply(self.stateMachine.activated(), context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        self.apply(self.stateMachine.activated(), context: context)
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .headers(let headers):
            self.apply(
                self.stateMachine.headersReceived(headers.headers, endStream: headers.endStream),
                context: context
            )
        case .data(let payload):
            switch self.stateMachine.dataReceived(endStream: payload.endStream) {
            case .deliver(let endStream):
                if case .byteBuffer(let buffer) = payload.data, buffer.readableBytes > 0 {
                    context.fireChannelRead(Self.wrapInboundOut(buffer))
                }
                if endStream {
                    context.fireChannelReadComplete()
                    context.close(promise: nil)
                }
            case .ignore:
                break
            case .close(let error):
                self.fail(error, context: context)
            }
        case .rstStream:
            self.stateMachine.closed()
            context.close(promise: nil)
        case .windowUpdate, .priority:
            break
        case .pushPromise, .settings, .ping, .goAway, .alternativeService, .origin:
            self.stateMachine.closed()
            self.fail(RelayFramingError(.unexpectedFrame, "a connection frame on a pump-link stream"), context: context)
        }
    }

    /// A reset with CANCEL is how either end closes a link it is done with: a normal end, not an
    /// error for the handlers above. Anything else passes on.
    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let closed = error as? NIOHTTP2Errors.StreamClosed, closed.errorCode == .cancel {
            self.stateMachine.closed()
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard self.stateMachine.canWrite else {
            promise?.fail(RelayFramingError(.writeBeforeOpen, "bytes written to a pump-link stream that is not open"))
            return
        }
        let buffer = Self.unwrapOutboundIn(data)
        let count = buffer.readableBytes
        guard self.pendingBytes + count <= RelayWireFormat.maximumPendingBytesPerStream else {
            let error = RelayFramingError(
                .outboundLimitExceeded,
                "\(self.pendingBytes + count) bytes waiting for the peer's stream window"
            )
            promise?.fail(error)
            self.fail(error, context: context)
            return
        }
        self.pendingBytes += count
        let written = promise ?? context.eventLoop.makePromise()
        written.futureResult.assumeIsolated().whenComplete { _ in self.pendingBytes -= count }
        context.write(Self.wrapOutboundOut(.data(.init(data: .byteBuffer(buffer)))), promise: written)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // End our direction cleanly when we can, so bytes already written arrive before the reset.
        if mode == .all, self.stateMachine.canWrite {
            self.stateMachine.closed()
            let end = HTTP2Frame.FramePayload.data(
                .init(data: .byteBuffer(context.channel.allocator.buffer(capacity: 0)), endStream: true)
            )
            context.writeAndFlush(Self.wrapOutboundOut(end), promise: nil)
        }
        context.close(mode: mode, promise: promise)
    }

    private func apply(_ action: RelayStreamStateMachine.HeadersAction, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .send(let headers):
            context.writeAndFlush(Self.wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        case .refuse(let headers, let error):
            context.writeAndFlush(
                Self.wrapOutboundOut(.headers(.init(headers: headers, endStream: true))),
                promise: nil
            )
            self.fail(error, context: context)
        case .close(let error):
            if let error {
                self.fail(error, context: context)
            } else {
                context.close(promise: nil)
            }
        }
    }

    private func fail(_ error: RelayFramingError, context: ChannelHandlerContext) {
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension RelayStreamHandler: Sendable {}

public import NIOCore
public import NIOHTTP2

/// Turns one HTTP/2 stream channel into a byte pipe: DATA frames in, `ByteBuffer`s up;
/// `ByteBuffer`s down, DATA frames out. Speaks the request/response of ``RelayWireFormat``
/// on either end (see ``RelayStreamStateMachine``) and closes the stream on anything out of
/// place, after firing the ``RelayFramingError`` through `errorCaught`.
///
/// A link ends without a reset: closing the channel from above sends END_STREAM and leaves the
/// stream open until the peer's END_STREAM finishes it (at most
/// ``RelayWireFormat/streamEndTimeout``, then it is reset); the peer's END_STREAM is answered
/// with this end's.
public final class RelayStreamHandler: ChannelDuplexHandler {
    public typealias InboundIn = HTTP2Frame.FramePayload
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = HTTP2Frame.FramePayload

    private var stateMachine: RelayStreamStateMachine
    /// Bytes written and not yet sent; capped at ``RelayWireFormat/maximumPendingBytesPerStream``.
    private var pendingBytes = 0
    /// Closed from above, END_STREAM sent: the close completes when the peer's arrives.
    private var ending: (promise: EventLoopPromise<Void>?, timer: Scheduled<Void>)?

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
                    self.peerEnded(context: context)
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
        guard mode == .all, self.ending == nil, self.stateMachine.endOwnSide() else {
            // A failure, a second close, or nothing to end cleanly: now (a reset if unfinished).
            self.ending?.timer.cancel()
            self.ending?.promise.map { context.channel.closeFuture.cascade(to: $0) }
            self.ending = nil
            context.close(mode: mode, promise: promise)
            return
        }
        self.sendEnd(context: context)
        if self.stateMachine.isFinished {
            context.close(mode: mode, promise: promise)
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let timer = context.eventLoop.scheduleTask(in: RelayWireFormat.streamEndTimeout) {
            let (handler, context) = bound.value
            guard let ending = handler.ending else { return }
            handler.ending = nil
            context.close(promise: ending.promise)
        }
        self.ending = (promise, timer)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.finishEnding()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.finishEnding()
    }

    private func finishEnding() {
        guard let ending = self.ending else { return }
        self.ending = nil
        ending.timer.cancel()
        ending.promise?.succeed()
    }

    /// The peer ended its direction: this end answers with its own END_STREAM, which finishes
    /// the stream; if it cannot (it failed), the stream is closed.
    private func peerEnded(context: ChannelHandlerContext) {
        if self.stateMachine.endOwnSide() {
            self.sendEnd(context: context)
        } else if !self.stateMachine.isFinished {
            context.close(promise: nil)
        }
    }

    private func sendEnd(context: ChannelHandlerContext) {
        let end = HTTP2Frame.FramePayload.data(
            .init(data: .byteBuffer(context.channel.allocator.buffer(capacity: 0)), endStream: true)
        )
        context.writeAndFlush(Self.wrapOutboundOut(end), promise: nil)
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

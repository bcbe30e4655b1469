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
/// Writes are encrypted when they are flushed, all of them together: many small writes
/// followed by one flush (an HTTP/2 frame's header and payload) become one TLS record, not
/// one each. Unflushed plaintext is encrypted early once it fills a record
/// (``coalescingLimit``), so it never holds more than that. The plaintext of all the records
/// one read of the socket completes goes up as one buffer.
///
/// Writes before the handshake completes are refused: the pump protocol always waits for
/// the handshake, and buffering them would need a cap of its own.
public final class GatewayTLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Unflushed plaintext is encrypted as soon as it reaches this many bytes (a full record).
    static let coalescingLimit = 16 * 1024

    private let connection: GatewayTLSConnection
    private var handshakeTimer: Scheduled<Void>?
    private var closing = false
    /// Written and not yet encrypted (nothing flushed it yet), and the promise of those writes.
    private var unflushed: ByteBuffer?
    private var unflushedPromise: EventLoopPromise<Void>?

    public init(context: GatewayTLSContext, resuming session: GatewayTLSSession? = nil) throws {
        self.connection = try GatewayTLSConnection(context: context, resuming: session)
    }

    public var state: GatewayTLSConnection.State { self.connection.state }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.begin(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.encryptUnflushed(context: context)
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
            var output = HandlerOutput(allocator: context.channel.allocator)
            handler.connection.handshakeTimedOut(into: &output)
            handler.apply(output, context: context)
        }
        var output = HandlerOutput(allocator: context.channel.allocator)
        self.connection.start(into: &output)
        self.apply(output, context: context)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        var output = HandlerOutput(allocator: context.channel.allocator)
        buffer.withUnsafeReadableBytes { self.connection.feed($0, into: &output) }
        self.apply(output, context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.handshakeTimer?.cancel()
        self.failUnflushed(ChannelError.ioOnClosedChannel)
        var output = HandlerOutput(allocator: context.channel.allocator)
        self.connection.transportClosed(into: &output)
        if let failure = output.failure { context.fireErrorCaught(failure) }
        context.fireChannelInactive()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let refusal = self.connection.sendRefusal {
            promise?.fail(refusal)
            return
        }
        var buffer = Self.unwrapOutboundIn(data)
        if var unflushed = self.unflushed {
            self.unflushed = nil  // keeps the storage uniquely referenced while it grows
            unflushed.writeBuffer(&buffer)
            self.unflushed = unflushed
        } else {
            self.unflushed = buffer
        }
        if let promise {
            if let earlier = self.unflushedPromise {
                earlier.futureResult.cascade(to: promise)
            } else {
                self.unflushedPromise = promise
            }
        }
        if (self.unflushed?.readableBytes ?? 0) >= Self.coalescingLimit { self.encryptUnflushed(context: context) }
    }

    public func flush(context: ChannelHandlerContext) {
        self.encryptUnflushed(context: context)
        context.flush()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, !self.closing else {
            self.encryptUnflushed(context: context)
            context.close(mode: mode, promise: promise)
            return
        }
        self.closing = true
        self.handshakeTimer?.cancel()
        self.encryptUnflushed(context: context)  // what was written goes before close_notify
        var output = HandlerOutput(allocator: context.channel.allocator)
        self.connection.close(into: &output)
        if let ciphertext = output.ciphertext {
            context.write(Self.wrapOutboundOut(ciphertext), promise: nil)
        }
        context.flush()
        context.close(mode: mode, promise: promise)
    }

    /// Encrypts the unflushed plaintext, all of it in one call (one record per 16 KiB), and
    /// writes the ciphertext without flushing.
    private func encryptUnflushed(context: ChannelHandlerContext) {
        guard let plaintext = self.unflushed else { return }
        let promise = self.unflushedPromise
        self.unflushed = nil
        self.unflushedPromise = nil
        var output = HandlerOutput(allocator: context.channel.allocator)
        plaintext.withUnsafeReadableBytes { self.connection.send($0, into: &output) }
        if let failure = output.failure {
            promise?.fail(failure)
            return
        }
        let ciphertext = output.ciphertext ?? context.channel.allocator.buffer(capacity: 0)
        context.write(Self.wrapOutboundOut(ciphertext), promise: promise)
    }

    private func failUnflushed(_ error: any Error) {
        let promise = self.unflushedPromise
        self.unflushed = nil
        self.unflushedPromise = nil
        promise?.fail(error)
    }

    /// Executes what the engine asked for: send ciphertext, deliver events.
    private func apply(_ output: HandlerOutput, context: ChannelHandlerContext) {
        if let ciphertext = output.ciphertext {
            context.writeAndFlush(Self.wrapOutboundOut(ciphertext), promise: nil)
        }
        for item in output.items {
            switch item {
            case .plaintext(let buffer): context.fireChannelRead(Self.wrapInboundOut(buffer))
            case .event(let event): self.handle(event, context: context)
            }
        }
        if let plaintext = output.plaintext { context.fireChannelRead(Self.wrapInboundOut(plaintext)) }
    }

    private func handle(_ event: GatewayTLSOutput.Event, context: ChannelHandlerContext) {
        switch event {
        case .established(let peer):
            self.handshakeTimer?.cancel()
            context.fireUserInboundEventTriggered(GatewayTLSEvent.established(peer))
        case .plaintext(let bytes):
            context.fireChannelRead(Self.wrapInboundOut(context.channel.allocator.buffer(bytes: bytes)))
        case .closedByPeer:
            self.closing = true
            self.failUnflushed(GatewayTLSError(.closed, "the peer closed the session"))
            context.close(promise: nil)
        case .failed(let error):
            self.handshakeTimer?.cancel()
            self.failUnflushed(error)
            context.fireErrorCaught(error)
            self.closing = true
            context.close(promise: nil)
        }
    }
}

/// What one call into the engine produced, in `ByteBuffer`s: all ciphertext in one buffer;
/// plaintext merged into one buffer per run of records between events (usually one buffer).
struct HandlerOutput: GatewayTLSSink {
    enum Item {
        case plaintext(ByteBuffer)
        case event(GatewayTLSOutput.Event)
    }

    let allocator: ByteBufferAllocator
    var ciphertext: ByteBuffer?
    /// Events, and plaintext that came before an event, in order.
    var items: [Item] = []
    /// Plaintext after the last event.
    var plaintext: ByteBuffer?

    init(allocator: ByteBufferAllocator) { self.allocator = allocator }

    var failure: GatewayTLSError? {
        for case .event(.failed(let error)) in self.items { return error }
        return nil
    }

    mutating func appendCiphertext(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Int) {
        var buffer = self.ciphertext.take() ?? self.allocator.buffer(capacity: count)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) {
            max(fill(UnsafeMutableRawBufferPointer(rebasing: $0.prefix(count))), 0)
        }
        self.ciphertext = buffer
    }

    mutating func appendPlaintext(_ bytes: UnsafeRawBufferPointer) {
        var buffer = self.plaintext.take() ?? self.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        self.plaintext = buffer
    }

    mutating func append(_ event: GatewayTLSOutput.Event) {
        if let plaintext = self.plaintext.take() { self.items.append(.plaintext(plaintext)) }
        self.items.append(.event(event))
    }
}

@available(*, unavailable)
extension GatewayTLSHandler: Sendable {}

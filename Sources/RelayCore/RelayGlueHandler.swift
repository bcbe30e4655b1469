import Logging
import NIOCore

/// One half of the copy between a pump link and its uplink stream (swift-nio's `GlueHandler`
/// pattern, both channels on one event loop). It reads its own channel only while the
/// partner's channel is writable and has room under the cap for a whole read, so a pump that stops reading closes its own stream's HTTP/2
/// window and nothing else; it caps what it has written and not yet sent at
/// ``RelayLimits/maximumQueuedBytes`` and drops the link past that.
///
/// When the stream ends (the gateway closed the pump's session, or the uplink went), the link
/// is finished, not cut: what the gateway sent is written to the pump, then the link's output
/// half-closes, and whatever the pump still sends is read and discarded until it closes its
/// end, for at most ``RelayLimits/linkLingerTime``. (Closing a socket with unread input sends
/// a TCP reset, which can make the pump lose the gateway's last bytes, its close_notify.) The
/// pump closing its link, and any failure, close both sides at once.
final class RelayGlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Side { case pumpLink, uplinkStream }

    private let side: Side
    private let counters: RelayCounters
    private let maximumQueuedBytes: Int
    private var partner: RelayGlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Bytes written into this handler's channel whose write has not completed yet.
    private var queuedBytes = 0
    private var closed = false
    /// Pump link only: the stream ended; writing out what it sent, then discarding input.
    private var finishing = false
    private var lingerTimer: Scheduled<Void>?
    private let lingerTime: TimeAmount
    /// Bytes read from this side's channel and written to it (byte counts only, for the log).
    private var bytesRead = 0
    private var bytesWritten = 0
    private let logger: Logger

    private init(side: Side, counters: RelayCounters, limits: (queued: Int, linger: TimeAmount), logger: Logger) {
        self.side = side
        self.counters = counters
        self.maximumQueuedBytes = limits.queued
        self.lingerTime = limits.linger
        self.logger = logger
    }

    static func pair(
        counters: RelayCounters,
        logger: Logger,
        maximumQueuedBytes: Int = RelayLimits.maximumQueuedBytes,
        lingerTime: TimeAmount = RelayLimits.linkLingerTime
    ) -> (link: RelayGlueHandler, stream: RelayGlueHandler) {
        precondition(maximumQueuedBytes >= RelayLimits.linkReadSize, "the cap must hold one whole read")
        let limits = (queued: maximumQueuedBytes, linger: lingerTime)
        let link = RelayGlueHandler(side: .pumpLink, counters: counters, limits: limits, logger: logger)
        let stream = RelayGlueHandler(side: .uplinkStream, counters: counters, limits: limits, logger: logger)
        link.partner = stream
        stream.partner = link
        return (link, stream)
    }

    // MARK: Called by the partner

    private func partnerWrite(_ buffer: ByteBuffer) {
        guard let context = self.context, !self.closed else { return }
        let count = buffer.readableBytes
        guard self.queuedBytes + count <= self.maximumQueuedBytes else {
            self.counters.drop(.bufferFull)
            self.closeBoth()
            return
        }
        self.queuedBytes += count
        self.bytesWritten += count
        self.counters.queued(self.queuedBytes)
        if self.side == .pumpLink { self.counters.toPump(count) }
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in
            self.queuedBytes -= count
            if self.finishing, self.queuedBytes == 0 {
                self.closeOutput()
            } else if self.isWritable {
                self.partner?.partnerBecameWritable()  // room for another read again
            }
        }
        context.write(Self.wrapOutboundOut(buffer), promise: promise)
    }

    private func partnerFlush() { self.context?.flush() }

    private func partnerClosed() {
        guard let context = self.context, !self.closed || self.finishing else { return }
        self.closed = true
        self.finishing = false
        self.lingerTimer?.cancel()
        // Bytes already written from the partner go out first (the gateway's close_notify read
        // in the same batch as its uplink's end would otherwise be discarded with the link).
        context.flush()
        context.close(promise: nil)
    }

    /// The stream ended on its own. A pump link finishes (see the type's comment); the stream
    /// side closes.
    private func partnerEnded() {
        guard self.side == .pumpLink else { return self.partnerClosed() }
        guard let context = self.context, !self.closed else { return }
        self.closed = true
        self.finishing = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.lingerTimer = context.eventLoop.scheduleTask(in: self.lingerTime) {
            bound.value.partnerClosed()
        }
        context.flush()
        if self.queuedBytes == 0 { self.closeOutput() }
        if self.pendingRead {
            self.pendingRead = false
            context.read()
        }
    }

    /// Everything the gateway sent is written: half-closes the link (the pump reads the end
    /// after the last byte). A link that cannot half-close is closed.
    private func closeOutput() {
        guard let context = self.context, self.finishing else { return }
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenFailure { _ in self.partnerClosed() }
        context.close(mode: .output, promise: promise)
    }

    private func partnerBecameWritable() {
        guard self.pendingRead, let context = self.context else { return }
        self.pendingRead = false
        context.read()
    }

    /// Whether the partner may read: this channel is writable and one more read of the largest
    /// size fits under the cap, so a healthy link is never dropped for a read it was allowed.
    private var isWritable: Bool {
        guard let context = self.context, !self.closed else { return false }
        return context.channel.isWritable && self.queuedBytes + RelayLimits.linkReadSize <= self.maximumQueuedBytes
    }

    private func closeBoth() {
        self.partner?.partnerClosed()
        self.partnerClosed()
    }

    // MARK: ChannelDuplexHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if self.side == .pumpLink { self.counters.linkOpened() }
        // The partner may have held a read back while this side was not there yet.
        if context.channel.isWritable { self.partner?.partnerBecameWritable() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.lingerTimer?.cancel()
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        if self.finishing {
            self.counters.discarded(buffer.readableBytes)
            return
        }
        self.bytesRead += buffer.readableBytes
        if self.side == .pumpLink { self.counters.fromPump(buffer.readableBytes) }
        self.partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.partnerFlush()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.side == .pumpLink {
            self.counters.linkClosed()
            self.lingerTimer?.cancel()
            self.logger.info(
                "pump link closed",
                metadata: ["bytes_from_pump": "\(self.bytesRead)", "bytes_to_pump": "\(self.bytesWritten)"]
            )
        }
        self.closed = true
        self.finishing = false
        if self.side == .uplinkStream {
            self.partner?.partnerEnded()
        } else {
            self.partner?.partnerClosed()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // (A reset with CANCEL, the normal end of a link, never gets here: RelayStreamHandler.)
        if self.side == .uplinkStream { self.counters.drop(.streamError) }
        self.closeBoth()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        // A side that is ending reads on and drops what comes (so the peer can end too).
        if self.closed || self.partner?.isWritable ?? false {
            context.read()
        } else {
            self.pendingRead = true
        }
    }
}

@available(*, unavailable)
extension RelayGlueHandler: Sendable {}

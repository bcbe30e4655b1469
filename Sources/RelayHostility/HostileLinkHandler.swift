import NIOCore

/// The hostile relay's handler on one pump link, between the link's socket and the relay's
/// copy to the uplink stream: reads are the pump's bytes going up, writes are the gateway's
/// bytes going down. It runs each direction through its ``HostileStreamStateMachine`` and
/// executes the outputs, keeping their order; delayed outputs wait in a queue per direction
/// (at most ``maximumQueuedBytes``; past that the link is cut).
final class HostileLinkHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let maximumQueuedBytes = 256 * 1024

    let number: Int
    var openStream: HostileRelay.StreamOpener?
    private var machines: [HostileDirection: HostileStreamStateMachine]
    private var queues: [HostileDirection: [(notBefore: NIODeadline?, output: HostileStreamStateMachine.Output)]] = [
        .up: [], .down: [],
    ]
    private var queuedBytes: [HostileDirection: Int] = [.up: 0, .down: 0]
    private var timers: [HostileDirection: Scheduled<Void>] = [:]
    private var context: ChannelHandlerContext?
    private var isCut = false
    /// The link's socket closed; the handler still delivers what it held back going up.
    private var inactive = false
    private var ended = false
    private let relay: HostileRelay

    init(number: Int, up: HostileStreamStateMachine, down: HostileStreamStateMachine, relay: HostileRelay) {
        self.number = number
        self.machines = [.up: up, .down: down]
        self.relay = relay
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        for timer in self.timers.values { timer.cancel() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        self.relay.recordUp(buffer, link: self.number)
        self.process(buffer, .up, context)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The write is taken over here: it may be held, changed or dropped.
        self.process(Self.unwrapOutboundIn(data), .down, context)
        promise?.succeed()
    }

    /// The pump hung up. What the pump sent before is still delivered, delays and all, and
    /// only then does the end go on (the relay then closes the stream); bytes on their way to
    /// the pump are lost with it.
    func channelInactive(context: ChannelHandlerContext) {
        self.queues[.down] = []
        self.timers[.down]?.cancel()
        _ = self.machines[.down]?.ended()
        if !self.isCut, let partial = self.machines[.up]?.ended() {
            self.queues[.up]!.append((nil, .send(partial, notBefore: nil)))
        }
        self.inactive = true
        self.drain(.up, context)
        self.endIfDrained(context)
    }

    private func endIfDrained(_ context: ChannelHandlerContext) {
        guard self.inactive, self.queues[.up]!.isEmpty || self.isCut, !self.ended else { return }
        self.ended = true
        self.isCut = true
        self.timers[.up]?.cancel()
        self.queues[.up] = []
        self.relay.linkEnded(self.number, openStream: self.openStream)
        self.openStream = nil
        context.fireChannelInactive()
    }

    /// Bytes spliced in from another link: they go on at once, untouched.
    func inject(_ buffer: ByteBuffer, direction: HostileDirection) {
        guard let context = self.context, !self.isCut else { return }
        self.emit(buffer, direction, context)
        self.flush(direction, context)
    }

    // MARK: Executing outputs

    private func process(_ buffer: ByteBuffer, _ direction: HostileDirection, _ context: ChannelHandlerContext) {
        guard !self.isCut else { return }
        let (outputs, performed) = self.machines[direction]!.received(buffer, now: .now())
        self.relay.performed(performed)
        for output in outputs {
            var notBefore: NIODeadline? = nil
            if case .send(let bytes, let deadline) = output {
                notBefore = deadline
                if deadline != nil || !self.queues[direction]!.isEmpty {
                    self.queuedBytes[direction]! += bytes.readableBytes
                }
            }
            if notBefore != nil || !self.queues[direction]!.isEmpty {
                self.queues[direction]!.append((notBefore, output))
            } else {
                self.perform(output, direction, context)
            }
        }
        if self.queuedBytes[direction]! > Self.maximumQueuedBytes {
            self.relay.overflowed(link: self.number, direction: direction)
            self.cut(context)
            return
        }
        self.drain(direction, context)
    }

    private func perform(
        _ output: HostileStreamStateMachine.Output,
        _ direction: HostileDirection,
        _ context: ChannelHandlerContext
    ) {
        switch output {
        case .send(let bytes, _):
            self.emit(bytes, direction, context)
        case .splice(let bytes, let partner):
            self.relay.splice(bytes, from: self.number, to: partner, direction: direction)
        case .cut:
            self.flush(direction, context)
            self.cut(context)
        }
    }

    private func emit(_ bytes: ByteBuffer, _ direction: HostileDirection, _ context: ChannelHandlerContext) {
        switch direction {
        case .up: context.fireChannelRead(Self.wrapInboundOut(bytes))
        case .down: context.write(Self.wrapOutboundOut(bytes), promise: nil)
        }
    }

    private func flush(_ direction: HostileDirection, _ context: ChannelHandlerContext) {
        switch direction {
        case .up: context.fireChannelReadComplete()
        case .down: context.flush()
        }
    }

    private func cut(_ context: ChannelHandlerContext) {
        guard !self.isCut else { return }
        self.isCut = true
        context.close(promise: nil)
        self.endIfDrained(context)
    }

    /// Performs the queue's head while it is due; schedules the rest.
    private func drain(_ direction: HostileDirection, _ context: ChannelHandlerContext) {
        self.timers[direction]?.cancel()
        self.timers[direction] = nil
        var performed = false
        let now = NIODeadline.now()
        while !self.isCut, let head = self.queues[direction]!.first {
            if let deadline = head.notBefore, deadline > now {
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                self.timers[direction] = context.eventLoop.scheduleTask(deadline: deadline) {
                    let (handler, context) = bound.value
                    handler.drain(direction, context)
                }
                break
            }
            self.queues[direction]!.removeFirst()
            if case .send(let bytes, _) = head.output { self.queuedBytes[direction]! -= bytes.readableBytes }
            self.perform(head.output, direction, context)
            performed = true
        }
        if performed, !self.isCut { self.flush(direction, context) }
        if direction == .up { self.endIfDrained(context) }
    }
}

@available(*, unavailable)
extension HostileLinkHandler: Sendable {}

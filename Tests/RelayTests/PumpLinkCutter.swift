import NIOCore
import RelayCore
import Synchronization

/// A relay that cuts a pump link at an exact byte of one TLS record: armed with a direction
/// and `k`, it forwards the first `k` bytes of the next application-data record going that
/// way (header included, so the offset does not depend on the handshake before it), then cuts
/// the link. A cut ends the relay's copy at once (the gateway's stream closes) and half-closes
/// the link towards the pump after exactly the bytes forwarded, so the pump reads them and
/// then the end; whatever the pump sends afterwards is read and discarded.
///
/// Put it in a relay with `PhoneRelay.Configuration.interposer` (``interposer``).
final class PumpLinkCutter: Sendable {
    enum Direction: String, Sendable, CustomStringConvertible {
        /// Gateway → pump (the command).
        case toPump = "gateway→pump"
        /// Pump → gateway (the acknowledgement).
        case toGateway = "pump→gateway"

        var description: String { self.rawValue }
    }

    /// A cut the cutter made.
    struct Cut: Sendable, Equatable {
        var direction: Direction
        /// Bytes of the record forwarded before the cut.
        var forwarded: Int
        /// The whole record's length, header included.
        var recordLength: Int
    }

    private struct State {
        var armed: (direction: Direction, bytes: Int)?
        var cuts: [Cut] = []
        /// Lengths of the application-data records seen, by direction, in order.
        var records: [Direction: [Int]] = [:]
    }

    private let state = Mutex(State())

    /// The next application-data record going `direction` is cut after `bytes` bytes.
    func arm(_ direction: Direction, bytes: Int) {
        self.state.withLock { $0.armed = (direction, bytes) }
    }

    var isArmed: Bool { self.state.withLock { $0.armed != nil } }
    var cuts: [Cut] { self.state.withLock { $0.cuts } }

    /// The lengths of the application-data records seen going `direction` (all links).
    func recordLengths(_ direction: Direction) -> [Int] { self.state.withLock { $0.records[direction] ?? [] } }

    var interposer: PumpLinkInterposer {
        { link, _ in try link.pipeline.syncOperations.addHandler(PumpLinkCutHandler(cutter: self)) }
    }

    /// A record of `contentType` and `length` starts going `direction`: the bytes of it to
    /// forward before cutting, if the cutter is armed for it.
    fileprivate func recordStarts(_ direction: Direction, contentType: UInt8, length: Int) -> Int? {
        self.state.withLock { state in
            guard contentType == Self.applicationData else { return nil }
            state.records[direction, default: []].append(length)
            guard let armed = state.armed, armed.direction == direction else { return nil }
            state.armed = nil
            state.cuts.append(Cut(direction: direction, forwarded: armed.bytes, recordLength: length))
            return armed.bytes
        }
    }

    static let applicationData: UInt8 = 23
    static let headerLength = 5
}

/// Follows one direction's TLS records (headers travel in clear) and says how many of the
/// bytes it is given may go on before a cut.
private struct RecordCursor {
    /// The start of a header not yet complete; held back until it is.
    var header = ByteBuffer()
    /// Bytes of the current record still to come.
    var remaining = 0
    /// Bytes still to forward before the cut, once the armed record started.
    var cutAfter: Int?

    /// Splits `input` into what goes on now and whether the link is cut after it.
    mutating func take(
        _ input: ByteBuffer,
        _ direction: PumpLinkCutter.Direction,
        cutter: PumpLinkCutter
    ) -> (forward: ByteBuffer, cut: Bool) {
        var input = input
        var forward = ByteBuffer()
        while true {
            if let left = self.cutAfter {
                let count = min(left, input.readableBytes)
                var slice = input.readSlice(length: count)!
                forward.writeBuffer(&slice)
                self.cutAfter = left - count
                if left == count { return (forward, true) }
                return (forward, false)
            }
            if self.remaining > 0 {
                let count = min(self.remaining, input.readableBytes)
                guard count > 0 else { return (forward, false) }
                var slice = input.readSlice(length: count)!
                forward.writeBuffer(&slice)
                self.remaining -= count
                continue
            }
            // At a record boundary: complete the header first.
            let missing = PumpLinkCutter.headerLength - self.header.readableBytes
            var part = input.readSlice(length: min(missing, input.readableBytes))!
            self.header.writeBuffer(&part)
            guard self.header.readableBytes == PumpLinkCutter.headerLength else { return (forward, false) }
            var header = self.header
            self.header = ByteBuffer()
            let type = header.getInteger(at: header.readerIndex, as: UInt8.self)!
            let length = Int(header.getInteger(at: header.readerIndex + 3, as: UInt16.self)!)
            let total = PumpLinkCutter.headerLength + length
            if let bytes = cutter.recordStarts(direction, contentType: type, length: total) {
                // The header goes back in front of the rest: the cut counts from the record's start.
                header.writeBuffer(&input)
                input = header
                self.cutAfter = bytes
                continue
            }
            forward.writeBuffer(&header)
            self.remaining = length
        }
    }
}

/// The cutter's handler on one link, next to its socket: reads are the pump's bytes going
/// up, writes the gateway's bytes going down.
private final class PumpLinkCutHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long a cut link waits for the pump to close its end before it is closed.
    static let linger: TimeAmount = .seconds(5)

    private let cutter: PumpLinkCutter
    private var up = RecordCursor()
    private var down = RecordCursor()
    private var isCut = false
    private var lingerTimer: Scheduled<Void>?

    init(cutter: PumpLinkCutter) { self.cutter = cutter }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.isCut else { return }
        let (forward, cut) = self.up.take(Self.unwrapInboundIn(data), .toGateway, cutter: self.cutter)
        if forward.readableBytes > 0 { context.fireChannelRead(Self.wrapInboundOut(forward)) }
        if cut {
            context.fireChannelReadComplete()
            self.cut(context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.isCut {
            context.read()  // the relay's copy is gone: keep reading (and discarding) until the pump closes
        } else {
            context.fireChannelReadComplete()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !self.isCut else {
            promise?.succeed()
            return
        }
        let (forward, cut) = self.down.take(Self.unwrapOutboundIn(data), .toPump, cutter: self.cutter)
        if forward.readableBytes > 0 {
            context.write(Self.wrapOutboundOut(forward), promise: promise)
        } else {
            promise?.succeed()
        }
        if cut { self.cut(context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.lingerTimer?.cancel()
        guard !self.isCut else { return }  // the relay was told at the cut
        self.isCut = true
        context.fireChannelInactive()
    }

    /// Ends the relay's copy now (its stream to the gateway closes) and the link towards the
    /// pump after what was forwarded.
    private func cut(_ context: ChannelHandlerContext) {
        self.isCut = true
        context.flush()
        let halfClosed = context.eventLoop.makePromise(of: Void.self)
        halfClosed.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        context.close(mode: .output, promise: halfClosed)
        context.fireChannelInactive()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.lingerTimer = context.eventLoop.scheduleTask(in: Self.linger) { bound.value.close(promise: nil) }
        context.read()
    }
}

@available(*, unavailable)
extension PumpLinkCutHandler: Sendable {}

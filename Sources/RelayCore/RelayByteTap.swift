public import NIOCore

/// Where a ``RelayByteTap`` sees bytes: everything the relay process handles passes one of
/// these points. Tests use a tap to prove that no inner plaintext is ever in the relay.
public enum RelayTapPoint: Sendable, Hashable {
    /// Bytes read from a pump link (the pump's TLS records).
    case fromPump
    /// Bytes written to a pump link.
    case toPump
    /// Bytes written to the gateway on the wire (outer TLS records).
    case uplinkOut
    /// Bytes read from the gateway on the wire.
    case uplinkIn
}

/// Observes bytes as they pass; must not keep them beyond a test.
public typealias RelayByteTap = @Sendable (RelayTapPoint, ByteBufferView) -> Void

/// Shows each buffer read or written through it to the tap; changes nothing.
final class RelayTapHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let tap: RelayByteTap
    private let inbound: RelayTapPoint
    private let outbound: RelayTapPoint

    init(tap: @escaping RelayByteTap, inbound: RelayTapPoint, outbound: RelayTapPoint) {
        self.tap = tap
        self.inbound = inbound
        self.outbound = outbound
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.tap(self.inbound, Self.unwrapInboundIn(data).readableBytesView)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.tap(self.outbound, Self.unwrapOutboundIn(data).readableBytesView)
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension RelayTapHandler: Sendable {}

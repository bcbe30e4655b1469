public import NIOCore

/// A hostile link for demos and tests: flips one bit in the `writeNumber`th chunk the pump
/// sends (counting from 1). The pump's TLS record then fails authentication at the gateway.
public final class LinkTamperHandler: ChannelOutboundHandler {
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let writeNumber: Int
    private var writes = 0

    public init(flipBitInWrite writeNumber: Int) {
        self.writeNumber = writeNumber
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = Self.unwrapOutboundIn(data)
        self.writes += 1
        if self.writes == self.writeNumber, buffer.readableBytes > 0 {
            let index = buffer.writerIndex - 1
            let byte = buffer.getInteger(at: index, as: UInt8.self)!
            buffer.setInteger(byte ^ 0x01, at: index)
        }
        context.write(Self.wrapOutboundOut(buffer), promise: promise)
    }
}

@available(*, unavailable)
extension LinkTamperHandler: Sendable {}

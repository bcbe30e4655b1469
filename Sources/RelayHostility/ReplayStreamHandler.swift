import NIOCore

/// The end of a replay stream: a stream the hostile relay opened itself, with no pump behind
/// it. It sends the recorded bytes of an earlier pump link as they were read (one write per
/// read) and throws away whatever the gateway answers.
final class ReplayStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var recording: [ByteBuffer]
    private(set) var bytesAnswered = 0

    init(recording: [ByteBuffer]) {
        self.recording = recording
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.play(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.play(context)
        context.fireChannelActive()
    }

    private func play(_ context: ChannelHandlerContext) {
        let recording = self.recording
        self.recording = []
        for buffer in recording { context.write(Self.wrapOutboundOut(buffer), promise: nil) }
        if !recording.isEmpty { context.flush() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.bytesAnswered += Self.unwrapInboundIn(data).readableBytes
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ReplayStreamHandler: Sendable {}

import GatewayTLS
import Logging
import NIOCore
import NIOHTTP2
import RelayFraming

/// Sits above the uplink's ``GatewayTLSHandler``. When the outer TLS is established it puts
/// the HTTP/2 client on the channel, and when the gateway's SETTINGS arrive (which the gateway
/// only sends after it accepted the phone's certificate) it reports the uplink ready with the
/// stream multiplexer. A failure or close before that fails `ready`.
final class UplinkHandshakeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let ready: EventLoopPromise<NIOHTTP2Handler.StreamMultiplexer>
    private let logger: Logger

    init(ready: EventLoopPromise<NIOHTTP2Handler.StreamMultiplexer>, logger: Logger) {
        self.ready = ready
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .established(let peer)? = event as? GatewayTLSEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.logger.debug("uplink TLS established", metadata: ["suite": "\(peer.cipherSuite)"])
        do {
            let sync = context.pipeline.syncOperations
            let multiplexer = try RelayWireFormat.configureHTTP2(on: sync, mode: .client) { stream in
                // The gateway never opens streams towards a phone (our SETTINGS say 0).
                stream.close()
            }
            try sync.addHandler(UplinkControlHandler(ready: self.ready, multiplexer: multiplexer))
        } catch {
            self.ready.fail(error)
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.ready.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.ready.fail(RelayError(.uplinkClosed, "the gateway closed the uplink before accepting the phone"))
        context.fireChannelInactive()
    }
}

/// The end of the uplink pipeline: sees the connection-level HTTP/2 frames (stream 0).
final class UplinkControlHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let ready: EventLoopPromise<NIOHTTP2Handler.StreamMultiplexer>
    private let multiplexer: NIOHTTP2Handler.StreamMultiplexer

    init(ready: EventLoopPromise<NIOHTTP2Handler.StreamMultiplexer>, multiplexer: NIOHTTP2Handler.StreamMultiplexer) {
        self.ready = ready
        self.multiplexer = multiplexer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .settings(.settings) = Self.unwrapInboundIn(data).payload {
            self.ready.succeed(self.multiplexer)
        }
    }
}

@available(*, unavailable)
extension UplinkHandshakeHandler: Sendable {}
@available(*, unavailable)
extension UplinkControlHandler: Sendable {}

public import GatewayTLS
public import HummingbirdCore
public import Logging
public import NIOCore

/// A Hummingbird child channel that speaks TLS through the gateway's own OpenSSL engine
/// (``GatewayTLSHandler``) before handing the plaintext to `BaseChannel` (HTTP/1.1): the same
/// shape as HummingbirdTLS' `TLSChannel`, without swift-nio-ssl (BoringSSL), so that the whole
/// gateway has one TLS implementation to configure and audit.
///
/// A client that sends anything but a TLS handshake (plain HTTP to the HTTPS port) fails the
/// handshake and its connection is closed; no HTTP is ever answered in clear.
public struct GatewayTLSChannel<BaseChannel: ServerChildChannel>: ServerChildChannel {
    public typealias Value = BaseChannel.Value

    let baseChannel: BaseChannel
    /// One context per listener: it holds the certificate, the key and the session cache.
    let context: GatewayTLSContext

    public init(_ baseChannel: BaseChannel, context: GatewayTLSContext) {
        self.baseChannel = baseChannel
        self.context = context
    }

    /// Puts the TLS handler first in the pipeline, then lets the base channel add HTTP's.
    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(GatewayTLSHandler(context: self.context))
        }.flatMap {
            self.baseChannel.setup(channel: channel, logger: logger)
        }
    }

    public func handle(value: BaseChannel.Value, logger: Logger) async {
        await self.baseChannel.handle(value: value, logger: logger)
    }
}

extension GatewayTLSChannel: HTTPChannelHandler where BaseChannel: HTTPChannelHandler {
    public var responder: HTTPChannelHandler.Responder { self.baseChannel.responder }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 inside the gateway's TLS: `Application(router:server: .gatewayTLS(context))`.
    public static func gatewayTLS(
        _ context: GatewayTLSContext,
        configuration: HTTP1Channel.Configuration = .init()
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GatewayTLSChannel(HTTP1Channel(responder: responder, configuration: configuration), context: context)
        }
    }
}

import GatewayTLS
import NIOCore
import NIOEmbedded
import Testing

@Suite("GatewayTLSHandler under EmbeddedChannel")
struct GatewayTLSHandlerTests {
    let fixtures = TLSFixtures.shared

    func activeServerChannel() throws -> EmbeddedChannel {
        let context = try GatewayTLSContext(self.fixtures.pumpServerConfiguration())
        let channel = EmbeddedChannel(handler: try GatewayTLSHandler(context: context))
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test("a peer that never finishes the handshake is cut off when the timeout fires, not before")
    func handshakeTimerFires() throws {
        let channel = try self.activeServerChannel()
        let timeout = Int64(self.fixtures.pumpServerConfiguration().handshakeTimeoutMilliseconds)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(timeout - 1))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive)
        do {
            try channel.throwIfErrorCaught()
            Issue.record("no error was raised by the timeout")
        } catch let error as GatewayTLSError {
            #expect(error.code == .handshakeTimeout)
        }
    }

    @Test("a completed handshake cancels the timer and fires the established event with the pump's identity")
    func handshakeCancelsTimer() throws {
        let channel = try self.activeServerChannel()
        let events = EventRecorder()
        try channel.pipeline.syncOperations.addHandler(events)
        let client = try GatewayTLSConnection(
            context: try GatewayTLSContext(self.fixtures.openSSLPumpClient(self.fixtures.pump))
        )
        var toServer = client.start().ciphertext
        for _ in 0..<10 where !toServer.isEmpty {
            try channel.writeInbound(channel.allocator.buffer(bytes: toServer))
            var fromServer: [UInt8] = []
            while let out = try channel.readOutbound(as: ByteBuffer.self) { fromServer += out.readableBytesView }
            toServer = fromServer.isEmpty ? [] : client.feed(fromServer).ciphertext
        }
        #expect(events.established?.identity == .pump(serial: TLSFixtures.pumpSerial))
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        try channel.throwIfErrorCaught()
        _ = try channel.finish()
    }
}

final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var established: TLSPeer?
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .established(let peer)? = event as? GatewayTLSEvent { self.established = peer }
        context.fireUserInboundEventTriggered(event)
    }
}

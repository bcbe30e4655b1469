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

    /// An established server channel and the client's end of the session.
    func establishedPair() throws -> (channel: EmbeddedChannel, client: GatewayTLSConnection) {
        let channel = try self.activeServerChannel()
        let client = try GatewayTLSConnection(
            context: try GatewayTLSContext(self.fixtures.openSSLPumpClient(self.fixtures.pump))
        )
        var toServer = client.start().ciphertext
        for _ in 0..<10 where !toServer.isEmpty {
            try channel.writeInbound(channel.allocator.buffer(bytes: toServer))
            toServer = client.feed(try Self.outbound(channel)).ciphertext
        }
        guard case .established = client.state else { throw NotEstablished(state: client.state) }
        return (channel, client)
    }

    static func outbound(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let out = try channel.readOutbound(as: ByteBuffer.self) { bytes += out.readableBytesView }
        return bytes
    }

    /// The content types of the TLS records in `bytes` (which must be whole records).
    static func recordTypes(_ bytes: [UInt8]) -> [UInt8] {
        var types: [UInt8] = []
        var offset = 0
        while offset + 5 <= bytes.count {
            types.append(bytes[offset])
            offset += 5 + Int(bytes[offset + 3]) << 8 + Int(bytes[offset + 4])
        }
        return offset == bytes.count ? types : types + [0]
    }

    @Test("writes are encrypted when flushed, all together: two small writes and one flush are one record")
    func writesCoalesceUntilFlush() throws {
        let (channel, client) = try self.establishedPair()
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.write(channel.allocator.buffer(bytes: Array("frame header|".utf8)), promise: nil)
        channel.write(channel.allocator.buffer(bytes: Array("payload".utf8)), promise: written)
        #expect(try Self.outbound(channel).isEmpty, "nothing goes out before the flush")
        channel.flush()
        try written.futureResult.wait()
        let ciphertext = try Self.outbound(channel)
        #expect(Self.recordTypes(ciphertext) == [23], "one application-data record")
        #expect(client.feed(ciphertext).plaintext == Array("frame header|payload".utf8))

        // Past a record's worth of unflushed plaintext, it is encrypted without waiting for a
        // flush (so the handler never holds more than that).
        let writes = WriteCounter()
        try channel.pipeline.syncOperations.addHandler(writes, position: .first)
        channel.write(channel.allocator.buffer(repeating: 7, count: 20_000), promise: nil)
        #expect(writes.count == 1, "encrypted before any flush")
        channel.flush()
        let large = try Self.outbound(channel)
        #expect(Self.recordTypes(large) == [23, 23])
        let plaintext = client.feed(large).plaintext
        #expect(plaintext.count == 20_000 && plaintext.allSatisfy { $0 == 7 })
        _ = try channel.finish()
    }

    @Test("closing encrypts what was written before the close_notify; a write before the handshake is refused")
    func closeFlushesWrittenBytesFirst() throws {
        let early = try self.activeServerChannel()
        let refused = early.eventLoop.makePromise(of: Void.self)
        early.writeAndFlush(early.allocator.buffer(bytes: [1, 2, 3]), promise: refused)
        #expect {
            try refused.futureResult.wait()
        } throws: {
            ($0 as? GatewayTLSError)?.code == .closed
        }
        _ = try early.finish()

        let (channel, client) = try self.establishedPair()
        channel.write(channel.allocator.buffer(bytes: Array("last words".utf8)), promise: nil)
        _ = channel.close()
        let output = client.feed(try Self.outbound(channel))
        #expect(output.plaintext == Array("last words".utf8))
        #expect(output.events.last == .closedByPeer)
    }
}

/// Counts the writes that pass it (between the TLS handler and the socket: ciphertext).
final class WriteCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var count = 0
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.count += 1
        context.write(data, promise: promise)
    }
}

struct NotEstablished: Error {
    let state: GatewayTLSConnection.State
}

final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var established: TLSPeer?
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .established(let peer)? = event as? GatewayTLSEvent { self.established = peer }
        context.fireUserInboundEventTriggered(event)
    }
}

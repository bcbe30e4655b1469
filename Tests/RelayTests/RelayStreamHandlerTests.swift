import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import RelayFraming
import Testing

@Suite("Relay: one pump-link stream under EmbeddedChannel")
struct RelayStreamHandlerTests {
    func gatewayEnd() -> EmbeddedChannel {
        EmbeddedChannel(handler: RelayStreamHandler(role: .gateway))
    }

    func headers(_ headers: HPACKHeaders, endStream: Bool = false) -> HTTP2Frame.FramePayload {
        .headers(.init(headers: headers, endStream: endStream))
    }

    func data(_ text: String, endStream: Bool = false) -> HTTP2Frame.FramePayload {
        .data(.init(data: .byteBuffer(ByteBuffer(string: text)), endStream: endStream))
    }

    func outboundHeaders(_ channel: EmbeddedChannel) throws -> HTTP2Frame.FramePayload.Headers? {
        guard case .headers(let headers)? = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else {
            return nil
        }
        return headers
    }

    @Test("gateway end: a pump-link request is accepted with 200, then bytes pass both ways unchanged")
    func gatewayAcceptsPumpLink() throws {
        let channel = self.gatewayEnd()
        try channel.writeInbound(self.headers(RelayWireFormat.request(authority: "localhost:7445")))
        #expect(try self.outboundHeaders(channel)?.headers.first(name: ":status") == "200")
        try channel.writeInbound(self.data("\u{16}\u{03}\u{03}opaque record"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "\u{16}\u{03}\u{03}opaque record"))
        try channel.writeOutbound(ByteBuffer(string: "reply"))
        guard case .data(let reply)? = try channel.readOutbound(as: HTTP2Frame.FramePayload.self),
            case .byteBuffer(let bytes) = reply.data
        else {
            Issue.record("no DATA frame written")
            return
        }
        #expect(bytes == ByteBuffer(string: "reply"))
        // The peer ends its direction: this end answers with END_STREAM (no reset).
        try channel.writeInbound(self.data("", endStream: true))
        #expect(try self.outboundEnd(channel))
        _ = try? channel.finish()
    }

    /// Whether the next outbound frame is an empty DATA frame with END_STREAM.
    func outboundEnd(_ channel: EmbeddedChannel) throws -> Bool {
        guard case .data(let end)? = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else { return false }
        return end.endStream && end.data.readableBytes == 0
    }

    @Test(
        "closing from above sends END_STREAM and keeps the stream until the peer's END_STREAM, resetting it only after the timeout"
    )
    func closeEndsCleanlyThenTimesOut() throws {
        let channel = self.gatewayEnd()
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(self.headers(RelayWireFormat.request(authority: "gw")))
        _ = try channel.readOutbound(as: HTTP2Frame.FramePayload.self)
        let closed = channel.close()
        #expect(try self.outboundEnd(channel))
        #expect(channel.isActive, "open until the peer ends too")
        let refused = channel.write(ByteBuffer(string: "after the end"))
        #expect(throws: RelayFramingError.self) { try refused.wait() }
        // What the peer still sends is delivered; its END_STREAM is not answered a second time.
        try channel.writeInbound(self.data("last"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "last"))
        channel.embeddedEventLoop.advanceTime(by: RelayWireFormat.streamEndTimeout - .milliseconds(1))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive, "reset after the timeout")
        try closed.wait()
        #expect(try channel.readOutbound(as: HTTP2Frame.FramePayload.self) == nil)
    }

    @Test("gateway end: another path is answered 404 and the stream fails with notAPumpLink")
    func gatewayRefusesOtherPath() throws {
        let channel = self.gatewayEnd()
        var request = RelayWireFormat.request(authority: "localhost")
        request.replaceOrAdd(name: ":path", value: "/admin")
        let error = #expect(throws: RelayFramingError.self) { try channel.writeInbound(self.headers(request)) }
        #expect(error?.code == .notAPumpLink)
        let answer = try self.outboundHeaders(channel)
        #expect(answer?.headers.first(name: ":status") == "404")
        #expect(answer?.endStream == true)
        _ = try? channel.finish()
    }

    @Test("gateway end: DATA before the request fails with unexpectedFrame and delivers nothing")
    func gatewayRefusesDataFirst() throws {
        let channel = self.gatewayEnd()
        let error = #expect(throws: RelayFramingError.self) { try channel.writeInbound(self.data("early")) }
        #expect(error?.code == .unexpectedFrame)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }

    @Test("gateway end: bytes written before the request is accepted fail with writeBeforeOpen")
    func gatewayWriteBeforeOpen() throws {
        let channel = self.gatewayEnd()
        let error = #expect(throws: RelayFramingError.self) { try channel.writeOutbound(ByteBuffer(string: "x")) }
        #expect(error?.code == .writeBeforeOpen)
        _ = try? channel.finish()
    }

    @Test("relay end: sends the pump-link request on activation; a non-200 answer fails with refusedByGateway")
    func relayRefusedByGateway() throws {
        let channel = EmbeddedChannel(handler: RelayStreamHandler(role: .relay(authority: "gw:7445")))
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        let request = try self.outboundHeaders(channel)
        #expect(request?.headers.first(name: ":path") == RelayWireFormat.path)
        #expect(request?.headers.first(name: ":authority") == "gw:7445")
        #expect(RelayWireFormat.requestProblem(request?.headers ?? [:]) == nil)
        let error = #expect(throws: RelayFramingError.self) {
            try channel.writeInbound(self.headers([":status": "503"], endStream: true))
        }
        #expect(error?.code == .refusedByGateway)
        _ = try? channel.finish()
    }
}

extension RelayStreamHandlerTests {
    @Test("a stream reset with CANCEL is a normal end: no error above; DATA after this end closed is ignored")
    func cancelIsANormalEnd() throws {
        let channel = self.gatewayEnd()
        try channel.writeInbound(self.headers(RelayWireFormat.request(authority: "gw")))
        _ = try channel.readOutbound(as: HTTP2Frame.FramePayload.self)
        channel.pipeline.fireErrorCaught(NIOHTTP2Errors.streamClosed(streamID: 1, errorCode: .cancel))
        #expect(throws: Never.self) { try channel.throwIfErrorCaught() }
        try channel.writeInbound(self.data("late", endStream: true))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }
}

extension RelayStreamHandlerTests {
    @Test("bytes piling up behind a shut stream window close the stream with outboundLimitExceeded")
    func pendingBytesAreCapped() throws {
        let channel = self.gatewayEnd()
        try channel.writeInbound(self.headers(RelayWireFormat.request(authority: "gw")))
        _ = try channel.readOutbound(as: HTTP2Frame.FramePayload.self)
        // Written but never flushed: as if the peer kept the window shut.
        let chunk = ByteBuffer(repeating: 0x17, count: 16 * 1024)
        for _ in 0..<(RelayWireFormat.maximumPendingBytesPerStream / chunk.readableBytes) {
            channel.write(chunk, promise: nil)
        }
        #expect(throws: Never.self) { try channel.throwIfErrorCaught() }
        let refused = channel.write(chunk)
        #expect(throws: RelayFramingError.self) { try refused.wait() }
        let error = #expect(throws: RelayFramingError.self) { try channel.throwIfErrorCaught() }
        #expect(error?.code == .outboundLimitExceeded)
    }
}

import GatewayTLS
import NIOCore
import NIOHTTP2
import NIOPosix
import RelayCore
import RelayFraming
import Synchronization
import Testing

/// How many bytes a flooding stream of the stand-in gateway managed to send.
final class FloodMeter: Sendable {
    static let total = 32 * 1024 * 1024
    private let sent = Mutex(0)
    var value: Int { self.sent.withLock { $0 } }
    func add(_ count: Int) { self.sent.withLock { $0 += count } }
}

/// On a stand-in gateway's stream: a link whose first bytes are `FLOOD` gets
/// ``FloodMeter/total`` bytes, written only while the stream is writable (so only HTTP/2 flow
/// control limits it); any other link gets its bytes echoed.
final class FloodOrEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let meter: FloodMeter
    private var flooding = false
    private var sent = 0

    init(meter: FloodMeter) { self.meter = meter }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        if !self.flooding && buffer.readableBytesView.starts(with: Array("FLOOD".utf8)) {
            self.flooding = true
            self.flood(context)
        } else if !self.flooding {
            context.writeAndFlush(data, promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if self.flooding { self.flood(context) }
        context.fireChannelWritabilityChanged()
    }

    private func flood(_ context: ChannelHandlerContext) {
        let chunk = context.channel.allocator.buffer(repeating: 0x5A, count: 16 * 1024)
        while context.channel.isWritable && self.sent < FloodMeter.total {
            self.sent += chunk.readableBytes
            self.meter.add(chunk.readableBytes)
            context.writeAndFlush(Self.wrapOutboundOut(chunk), promise: nil)
        }
    }
}

/// The outer side of a stand-in gateway: the real phone-profile TLS and relay framing, with
/// ``FloodOrEchoHandler`` where the pump sessions would be.
final class StandInGatewayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let meter: FloodMeter

    init(meter: FloodMeter) { self.meter = meter }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .established? = event as? GatewayTLSEvent else { return }
        let meter = self.meter
        _ = try? RelayWireFormat.configureHTTP2(on: context.pipeline.syncOperations, mode: .server) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(RelayStreamHandler(role: .gateway))
                try stream.pipeline.syncOperations.addHandler(FloodOrEchoHandler(meter: meter))
            }
        }
    }
}

@Suite("Relay: back-pressure per pump link")
struct RelayBackPressureTests {
    @Test(
        "a pump that stops reading holds only its own stream: the others' round trips go on (each under 20 s, milliseconds unloaded)"
    )
    func stuckPumpDoesNotBlockOthers() async throws {
        let bed = try await RelayTestBed(pumps: [])
        let meter = FloodMeter()
        let phoneTLS = bed.gateway.phoneTLS
        let standIn = try await ServerBootstrap(group: bed.group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try GatewayTLSHandler(context: phoneTLS))
                    try channel.pipeline.syncOperations.addHandler(StandInGatewayHandler(meter: meter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let relay = try bed.relay(gatewayPort: standIn.localAddress?.port)
        let uplink = try await relay.connectUplink()
        let listening = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        let port = try #require(listening.channel.localAddress?.port)

        // The stuck pump: asks for the flood, then never reads (and has a small socket buffer).
        let stuck = try await ClientBootstrap(group: bed.group)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 4_096)
            .connect(host: "127.0.0.1", port: port).get()
        try await stuck.writeAndFlush(ByteBuffer(string: "FLOOD")).get()

        // Wait until the flood stalls: HTTP/2 flow control stopped the stand-in from writing.
        var last = -1
        var stable = 0
        for _ in 0..<200 where stable < 3 {
            try await Task.sleep(for: .milliseconds(100))
            let now = meter.value
            stable = now == last && now > 0 ? stable + 1 : 0
            last = now
        }
        #expect(stable >= 3, "the flood never stalled (\(meter.value) bytes)")
        #expect(meter.value < FloodMeter.total, "flow control did not hold the flood back")

        // A healthy pump on the same relay and uplink keeps its round trips short.
        let healthy = try await ClientBootstrap(group: bed.group)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let slowest = try await healthy.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            var slowest = Duration.zero
            for index in 0..<20 {
                let message = "ping \(index) from a healthy pump"
                let start = ContinuousClock.now
                try await outbound.write(ByteBuffer(string: message))
                var echoed = ""
                while echoed.utf8.count < message.utf8.count, let buffer = try await iterator.next() {
                    echoed += String(buffer: buffer)
                }
                #expect(echoed == message)
                slowest = max(slowest, ContinuousClock.now - start)
            }
            return slowest
        }
        // Head-of-line blocking would stall these round trips until the stuck pump reads, that
        // is forever; unloaded they take milliseconds. The bound is 20 s so that a machine busy
        // with parallel builds and every other suite on the same event loops (seen: 3.6 s and
        // 5.7 s at load 11 on 2 cores) does not fail it.
        #expect(slowest < .seconds(20), "slowest round trip \(slowest)")

        let counters = relay.counters.snapshot
        #expect(counters.drops.isEmpty, "\(counters.drops)")
        #expect(counters.largestQueuedBytes <= RelayLimits.maximumQueuedBytes)
        #expect(counters.linksOpen >= 1, "the stuck link must stay open, only paused")
        #expect(stuck.isActive)

        try? await stuck.close()
        try? await listening.channel.close()
        try? await uplink.close()
        try? await standIn.close()
        await bed.shutdown()
    }
}

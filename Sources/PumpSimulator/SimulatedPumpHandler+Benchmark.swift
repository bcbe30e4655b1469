public import NIOCore
import TunnelProtocol

/// What a benchmark session does after the hello, instead of telemetry.
public enum PumpBenchmark: Sendable, Equatable {
    /// `count` heartbeats one at a time, each answered by the gateway: round-trip times.
    case ping(count: Int)
    /// `bytes` of plaintext as fast as the link takes it, in heartbeat replies (which the
    /// gateway reads and drops), then one heartbeat: when its answer comes back, the gateway
    /// has read everything.
    case bulk(bytes: Int)
}

struct BenchmarkState {
    var started: NIODeadline = .now()
    var sentAt: NIODeadline = .now()
    var nonce: UInt64 = 0
    var written = 0
    var finishing = false
}

extension SimulatedPumpHandler {
    /// 16 KiB of heartbeat-reply frames, the unit a bulk run writes.
    static let bulkChunk: [UInt8] = (0..<UInt64(1_489)).flatMap { InnerMessage.heartbeatReply(nonce: $0).encoded() }
    static let bulkEndNonce: UInt64 = 0xB0_1C

    func startBenchmark(_ benchmark: PumpBenchmark, _ context: ChannelHandlerContext) {
        self.benchmarkState.started = .now()
        switch benchmark {
        case .ping:
            self.sendPing(context)
        case .bulk:
            self.writeBulk(context)
        }
    }

    func benchmarkReply(_ nonce: UInt64, _ context: ChannelHandlerContext) {
        guard nonce == self.benchmarkState.nonce else { return }
        let now = NIODeadline.now()
        switch self.benchmark {
        case .ping(let count):
            self.report.roundTripNanoseconds.append(UInt64((now - self.benchmarkState.sentAt).nanoseconds))
            if self.report.roundTripNanoseconds.count < count {
                self.sendPing(context)
                return
            }
        case .bulk:
            self.report.bulkBytes = self.benchmarkState.written
            self.report.bulkNanoseconds = UInt64((now - self.benchmarkState.started).nanoseconds)
        case nil:
            return
        }
        self.tls.close()
        self.flush(context)
        self.finish(context, .success(self.report))
    }

    private func sendPing(_ context: ChannelHandlerContext) {
        self.benchmarkState.nonce &+= 1
        self.benchmarkState.sentAt = .now()
        self.send(.heartbeat(nonce: self.benchmarkState.nonce), context)
        self.flush(context)
    }

    /// Writes while the link takes it; called again when the link becomes writable.
    func writeBulk(_ context: ChannelHandlerContext) {
        guard case .bulk(let total) = self.benchmark, !self.benchmarkState.finishing else { return }
        while context.channel.isWritable, self.benchmarkState.written < total {
            do {
                try self.tls.write(plaintext: Self.bulkChunk)
            } catch {
                self.finish(context, .failure(error))
                return
            }
            self.benchmarkState.written += Self.bulkChunk.count
            self.flush(context)
        }
        if self.benchmarkState.written >= total {
            self.benchmarkState.finishing = true
            self.benchmarkState.nonce = Self.bulkEndNonce
            self.send(.heartbeat(nonce: Self.bulkEndNonce), context)
            self.flush(context)
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.writeBulk(context) }
        context.fireChannelWritabilityChanged()
    }
}

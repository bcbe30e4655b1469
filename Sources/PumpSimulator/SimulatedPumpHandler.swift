public import NIOCore
public import PumpTLS
import TherapyModel
public import TunnelProtocol

/// What one simulated pump session achieved.
public struct PumpSessionReport: Sendable {
    public var serial: String
    public var resumed = false
    public var cipherSuite: String?
    public var telemetryAcknowledged = 0
    public var bytesSent = 0
    public var bytesReceived = 0
    public var handshakeNanoseconds: UInt64 = 0
    /// ``PumpBenchmark/ping(count:)``: each heartbeat's round trip.
    public var roundTripNanoseconds: [UInt64] = []
    /// ``PumpBenchmark/bulk(bytes:)``: plaintext sent, and the time until the gateway had it all.
    public var bulkBytes = 0
    public var bulkNanoseconds: UInt64 = 0
}

/// Drives a pump's mbedTLS engine over a byte link (a TCP channel in simulation): the
/// handshake, a hello, `telemetryCount` telemetry messages `intervalMilliseconds` apart, each
/// acknowledged by the gateway, then close_notify. The pump speaks first after the handshake.
public final class SimulatedPumpHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    let tls: PumpTLSConnection
    let pump: SimulatedPump
    var report: PumpSessionReport
    private let done: EventLoopPromise<PumpSessionReport>
    private let telemetryCount: Int
    private let intervalMilliseconds: Int64
    private let firstTelemetrySequence: UInt64
    private var decoder = InnerFrameDecoder()
    private var established = false
    private var sent = 0
    private var started: NIODeadline = .now()
    /// How long the pump waits for the gateway's answer to a hello or telemetry before it
    /// sends the same message again (once), and then gives up; nil waits for ever.
    private let responseTimeout: TimeAmount?
    private var awaiting: (message: InnerMessage, resent: Bool, timer: Scheduled<Void>)?
    private let onEstablished: (@Sendable (_ resumed: Bool) -> Void)?
    /// Instead of telemetry after the hello (see `SimulatedPumpHandler+Benchmark.swift`).
    let benchmark: PumpBenchmark?
    var benchmarkState = BenchmarkState()

    /// Sent through the pipeline to end the session cleanly now (close_notify).
    public struct Stop: Sendable {
        public init() {}
    }

    public init(
        tls: PumpTLSConnection,
        pump: SimulatedPump,
        telemetryCount: Int,
        intervalMilliseconds: Int64,
        firstTelemetrySequence: UInt64,
        responseTimeoutMilliseconds: Int64? = nil,
        onEstablished: (@Sendable (_ resumed: Bool) -> Void)? = nil,
        benchmark: PumpBenchmark? = nil,
        done: EventLoopPromise<PumpSessionReport>
    ) {
        self.onEstablished = onEstablished
        self.benchmark = benchmark
        self.responseTimeout = responseTimeoutMilliseconds.map { .milliseconds($0) }
        self.tls = tls
        self.pump = pump
        self.report = PumpSessionReport(serial: pump.serial)
        self.telemetryCount = telemetryCount
        self.intervalMilliseconds = intervalMilliseconds
        self.firstTelemetrySequence = firstTelemetrySequence
        self.done = done
    }

    public func channelActive(context: ChannelHandlerContext) {
        self.started = .now()
        self.tls.startHandshake()
        self.flush(context)
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(Self.unwrapInboundIn(data).readableBytesView)
        self.report.bytesReceived += bytes.count
        self.tls.feed(ciphertext: bytes)
        if case .failed(let error) = self.tls.state {
            self.flush(context)
            self.finish(context, .failure(error))
            return
        }
        if !self.established, self.tls.state == .established {
            self.established = true
            self.report.handshakeNanoseconds = UInt64((NIODeadline.now() - self.started).nanoseconds)
            self.report.resumed = self.tls.isResumed
            self.report.cipherSuite = self.tls.negotiatedCipherSuiteName
            if let session = try? self.tls.exportSession() { self.pump.session = session }
            self.pump.activity?.established(resumed: self.report.resumed)
            self.onEstablished?(self.report.resumed)
            self.request(.hello(self.pump.hello()), context)
        }
        self.decoder.append(self.tls.readPlaintext())
        do {
            while let message = try self.decoder.next() { self.handle(message, context) }
        } catch {
            self.finish(context, .failure(error))
        }
        self.flush(context)
    }

    private func handle(_ message: InnerMessage, _ context: ChannelHandlerContext) {
        switch message {
        case .helloAccepted where self.isExtraAnswer, .telemetryStored where self.isExtraAnswer:
            break
        case .helloAccepted(_, let gatewayTime):
            self.answered()
            self.offerPairingCode(gatewayTime: gatewayTime, context)
            if let benchmark = self.benchmark {
                self.startBenchmark(benchmark, context)
            } else {
                self.sendNextTelemetry(context)
            }
        case .heartbeatReply(let nonce) where self.benchmark != nil:
            self.benchmarkReply(nonce, context)
        case .telemetryStored(let sequence):
            self.answered()
            self.pump.lastAcknowledgedSequence = sequence
            self.pump.activity?.acknowledged()
            self.report.telemetryAcknowledged += 1
            if self.report.telemetryAcknowledged >= self.telemetryCount {
                self.tls.close()
                self.flush(context)
                self.finish(context, .success(self.report))
            } else if self.intervalMilliseconds > 0 {
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(self.intervalMilliseconds)) {
                    let (handler, context) = bound.value
                    handler.sendNextTelemetry(context)
                }
            } else {
                self.sendNextTelemetry(context)
            }
        case .heartbeat(let nonce):
            self.send(.heartbeatReply(nonce: nonce), context)
        case .command(let body):
            self.answerCommand(body, context)
        default:
            break
        }
    }

    /// A pump showing a pairing code tells the gateway so through this session (needs the
    /// command core: the device key signs the code).
    private func offerPairingCode(gatewayTime: Int64, _ context: ChannelHandlerContext) {
        guard let pairing = self.pump.pairing, let runtime = self.pump.runtime else { return }
        do {
            let now = Timestamp(millisecondsSinceEpoch: gatewayTime)
            if let offer = try pairing.offer(runtime: runtime, gatewayTime: now) {
                self.send(.pairingOffer(offer), context)
            }
        } catch {
            self.finish(context, .failure(error))
        }
    }

    private func sendNextTelemetry(_ context: ChannelHandlerContext) {
        guard self.sent < self.telemetryCount, self.tls.state == .established else { return }
        let sequence = self.firstTelemetrySequence + UInt64(self.sent)
        self.sent += 1
        var telemetry = Self.telemetry(sequence: sequence)
        // A pump with a command core reports its own mode (suspended, locked out).
        if let mode = self.pump.runtime?.state.mode {
            if mode.contains(.suspended) { telemetry.flags.insert(.suspended) }
            if mode.contains(.lockedOut) { telemetry.flags.insert(.lockedOut) }
        }
        self.request(.telemetry(telemetry), context)
        self.flush(context)
    }

    /// Sends a message the gateway must answer, and waits for the answer at most the
    /// response timeout before sending it again (as a new TLS record), then gives up.
    private func request(_ message: InnerMessage, _ context: ChannelHandlerContext, resent: Bool = false) {
        self.send(message, context)
        guard let timeout = self.responseTimeout else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let timer = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            handler.responseTimedOut(context)
        }
        self.awaiting = (message, resent, timer)
    }

    /// An answer when none is awaited: the second answer to a message sent again after a
    /// timeout, both copies having arrived after all.
    private var isExtraAnswer: Bool { self.responseTimeout != nil && self.awaiting == nil }

    private func answered() {
        self.awaiting?.timer.cancel()
        self.awaiting = nil
    }

    private func responseTimedOut(_ context: ChannelHandlerContext) {
        guard let (message, resent, _) = self.awaiting, self.tls.state == .established else { return }
        self.awaiting = nil
        if resent {
            self.finish(
                context,
                .failure(PumpResponseTimeout(telemetryAcknowledged: self.report.telemetryAcknowledged))
            )
        } else {
            self.request(message, context, resent: true)
            self.flush(context)
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Stop else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.answered()
        self.tls.close()
        self.flush(context)
        self.finish(context, .success(self.report))
    }

    /// The telemetry a simulated pump sends with `sequence` (tests look for its plaintext).
    public static func telemetry(sequence: UInt64) -> InnerMessage.Telemetry {
        InnerMessage.Telemetry(
            sequence: sequence,
            timeMilliseconds: Int64(sequence),
            reservoirMilliunits: 150_000 - UInt32(truncatingIfNeeded: sequence % 1000) * 10,
            basalRateMilliunitsPerHour: 850,
            glucoseMgPerDL: 110,
            batteryPercent: 90
        )
    }

    func send(_ message: InnerMessage, _ context: ChannelHandlerContext) {
        do {
            try self.tls.write(plaintext: message.encoded())
        } catch {
            self.finish(context, .failure(error))
        }
    }

    func flush(_ context: ChannelHandlerContext) {
        let out = self.tls.takeOutbound()
        guard !out.isEmpty else { return }
        self.report.bytesSent += out.count
        context.writeAndFlush(Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: out)), promise: nil)
    }

    func finish(_ context: ChannelHandlerContext, _ result: Result<PumpSessionReport, any Error>) {
        self.answered()
        self.done.completeWith(result)
        context.close(promise: nil)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.answered()
        if self.established { self.pump.activity?.ended() }
        self.tls.transportClosed()
        if case .failed(let error) = self.tls.state {
            self.done.fail(error)
        } else {
            self.done.fail(PumpLinkClosed(telemetryAcknowledged: self.report.telemetryAcknowledged))
        }
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After the gateway's close_notify, a reset is how its end of a finished session looks
        // when its socket closed before this pump's own close_notify arrived: the link closed,
        // nothing failed.
        if self.tls.peerSentCloseNotify {
            self.finish(context, .failure(PumpLinkClosed(telemetryAcknowledged: self.report.telemetryAcknowledged)))
            return
        }
        self.finish(context, .failure(error))
    }
}

/// The gateway answered neither a message nor the same message sent again within the
/// response timeout each.
public struct PumpResponseTimeout: Error, CustomStringConvertible {
    public let telemetryAcknowledged: Int
    public var description: String {
        "no answer from the gateway to a message sent twice (\(self.telemetryAcknowledged) telemetry acknowledged)"
    }
}

/// The link closed before the session finished its work.
public struct PumpLinkClosed: Error, CustomStringConvertible {
    public let telemetryAcknowledged: Int
    public var description: String {
        "the link closed before the session finished (\(self.telemetryAcknowledged) telemetry acknowledged)"
    }
}

@available(*, unavailable)
extension SimulatedPumpHandler: Sendable {}

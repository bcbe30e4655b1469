public import NIOCore
public import PumpTLS
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
}

/// Drives a pump's mbedTLS engine over a byte link (a TCP channel in simulation): the
/// handshake, a hello, `telemetryCount` telemetry messages `intervalMilliseconds` apart, each
/// acknowledged by the gateway, then close_notify. The pump speaks first after the handshake.
public final class SimulatedPumpHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let tls: PumpTLSConnection
    let pump: SimulatedPump
    private var report: PumpSessionReport
    private let done: EventLoopPromise<PumpSessionReport>
    private let telemetryCount: Int
    private let intervalMilliseconds: Int64
    private let firstTelemetrySequence: UInt64
    private var decoder = InnerFrameDecoder()
    private var established = false
    private var sent = 0
    private var started: NIODeadline = .now()

    public init(
        tls: PumpTLSConnection,
        pump: SimulatedPump,
        telemetryCount: Int,
        intervalMilliseconds: Int64,
        firstTelemetrySequence: UInt64,
        done: EventLoopPromise<PumpSessionReport>
    ) {
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
            self.send(.hello(self.pump.hello()), context)
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
        case .helloAccepted:
            self.sendNextTelemetry(context)
        case .telemetryStored:
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

    private func sendNextTelemetry(_ context: ChannelHandlerContext) {
        guard self.sent < self.telemetryCount, self.tls.state == .established else { return }
        let sequence = self.firstTelemetrySequence + UInt64(self.sent)
        self.sent += 1
        self.send(.telemetry(Self.telemetry(sequence: sequence)), context)
        self.flush(context)
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
        self.done.completeWith(result)
        context.close(promise: nil)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.tls.transportClosed()
        if case .failed(let error) = self.tls.state {
            self.done.fail(error)
        } else {
            self.done.fail(PumpLinkClosed(telemetryAcknowledged: self.report.telemetryAcknowledged))
        }
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.finish(context, .failure(error))
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

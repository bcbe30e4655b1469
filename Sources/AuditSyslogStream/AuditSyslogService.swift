public import AuditLog
public import AuditSyslog
public import CoreMetrics
import Foundation
public import Logging
public import NIOCore
public import NIOPosix
public import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Streams every audit entry, from the durable cursor on, to a syslog collector over TLS, and
/// keeps streaming what is appended (by this gateway or by another process on the same state
/// directory: it polls the store's size every ``Configuration/tickInterval``).
///
/// All decisions are ``SyslogStreamStateMachine``'s; this service only carries its actions out,
/// in one task: connect, read a batch from the log and write it, write the cursor file, log.
/// Gauge `medtunnel.syslog.lag.entries`: entries not yet known delivered (the cursor's lag).
public struct AuditSyslogService<C: Clock>: Service where C.Duration == Duration {
    public struct Configuration: Sendable {
        public var collector: SyslogCollector
        public var stateDirectory: String
        /// HOSTNAME in every message (default: this host's name).
        public var hostname: String
        public var tickInterval: Duration = .milliseconds(250)
        public var connectTimeout: Duration = .seconds(10)
        /// A batch not handed to the kernel in this time means a collector that stopped reading.
        public var writeTimeout: Duration = .seconds(30)
        public var stream = SyslogStreamStateMachine<C.Instant>.Configuration()

        public init(collector: SyslogCollector, stateDirectory: String, hostname: String = Self.hostName()) {
            self.collector = collector
            self.stateDirectory = stateDirectory
            self.hostname = hostname
        }

        public static func hostName() -> String {
            var buffer = [CChar](repeating: 0, count: 256)
            guard gethostname(&buffer, buffer.count - 1) == 0 else { return "-" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public static var lagGauge: String { "medtunnel.syslog.lag.entries" }

    let log: AuditLog
    let configuration: Configuration
    let clock: C
    let group: any EventLoopGroup
    let logger: Logger
    let lag: Gauge

    public init(
        log: AuditLog,
        configuration: Configuration,
        clock: C,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        logger: Logger
    ) {
        self.log = log
        self.configuration = configuration
        self.clock = clock
        self.group = group
        self.logger = logger
        self.lag = Gauge(label: Self.lagGauge, dimensions: [], factory: metrics)
    }

    /// The machine and the connection it believes in.
    struct Stream: Sendable {
        var machine: SyslogStreamStateMachine<C.Instant>
        var channel: (any Channel)?
        var lastError: String = ""
    }

    public func run() async throws {
        let cursor = SyslogCursor(stateDirectory: self.configuration.stateDirectory)
        let size = try await self.log.storedSize()
        var start: UInt64 = 0
        switch cursor.load() {
        case .absent:
            break
        case .next(let next) where next <= size:
            start = next
        case .next(let next):
            self.logger.warning(
                "syslog cursor is past the end of the log (another log's?); streaming the whole log again",
                metadata: ["cursor": "\(next)", "size": "\(size)"]
            )
        case .malformed(let reason):
            self.logger.warning(
                "syslog cursor unusable; streaming the whole log again",
                metadata: ["reason": "\(reason)"]
            )
        }
        let machine = SyslogStreamStateMachine<C.Instant>(
            cursor: start,
            logSize: size,
            configuration: self.configuration.stream
        )
        self.logger.info(
            "syslog stream to \(self.configuration.collector)",
            metadata: ["cursor": "\(start)", "pending": "\(machine.pending)"]
        )
        var stream = await cancelWhenGracefulShutdown { [machine] in
            var stream = Stream(machine: machine)
            while !Task.isCancelled {
                await self.step(&stream)
                do { try await self.clock.sleep(for: self.configuration.tickInterval) } catch { break }
            }
            return stream
        }
        // Graceful shutdown: record what has settled, close with close_notify. What was written
        // less than a settle time ago is sent again by the next run (same indexes).
        await self.step(&stream, sending: false)
        try? await stream.channel?.close()
    }

    /// One tick: notice a lost connection and the log's growth, then carry out actions until the
    /// machine has nothing more to do before the next tick.
    func step(_ stream: inout Stream, sending: Bool = true) async {
        do {
            stream.machine.logGrew(to: try await self.log.storedSize())
        } catch {
            self.logger.error("syslog stream cannot read the log's size", metadata: ["error": "\(error)"])
        }
        if let channel = stream.channel, !channel.isActive {
            stream.channel = nil
            self.carryOut(stream.machine.connectionLost(now: self.clock.now), &stream)
        }
        // Asked once per tick: a later write in this tick is not covered by the answer.
        var acknowledged = await Self.peerAcknowledged(stream.channel)
        while !Task.isCancelled || !sending {
            let action = stream.machine.tick(now: self.clock.now, peerAcknowledged: acknowledged)
            acknowledged = false
            switch action {
            case .none:
                self.lag.record(Int64(stream.machine.pending))
                return
            case .connect where !sending:
                return
            case .send where !sending:
                return
            case .connect:
                do {
                    stream.channel = try await self.configuration.collector.connect(
                        group: self.group,
                        timeout: Self.timeAmount(self.configuration.connectTimeout)
                    )
                    self.carryOut(stream.machine.connectSucceeded(now: self.clock.now), &stream)
                } catch {
                    stream.lastError = "\(error)"
                    self.carryOut(stream.machine.connectFailed(now: self.clock.now), &stream)
                }
            case .send(let batch):
                do {
                    guard let channel = stream.channel else { preconditionFailure("send without a connection") }
                    try await self.send(batch, on: channel)
                    stream.machine.batchWritten(batch, now: self.clock.now)
                } catch {
                    stream.lastError = "\(error)"
                    stream.channel?.close(promise: nil)
                    stream.channel = nil
                    self.carryOut(stream.machine.connectionLost(now: self.clock.now), &stream)
                }
            case .persistCursor(let next):
                do {
                    try SyslogCursor(stateDirectory: self.configuration.stateDirectory).store(next)
                    stream.machine.cursorPersisted(next)
                } catch {
                    self.logger.error("syslog cursor not written", metadata: ["error": "\(error)"])
                    stream.machine.cursorNotPersisted(now: self.clock.now)
                }
            case .report:
                self.carryOut(action, &stream)
            }
        }
    }

    /// Reads `batch` from the log and writes it as one buffer of octet-counted messages.
    func send(_ batch: Range<UInt64>, on channel: any Channel) async throws {
        let entries = try await self.log.entries(in: batch)
        guard entries.count == batch.count else {
            throw SyslogError(.missingEntries, "entries \(batch): the log returned \(entries.count) of \(batch.count)")
        }
        var buffer = channel.allocator.buffer(capacity: 512 * entries.count)
        for entry in entries {
            buffer.writeBytes(SyslogFraming.frame(SyslogMessage.format(entry, hostname: self.configuration.hostname)))
        }
        // A collector that stops reading would hold this write (and the gateway's shutdown) for
        // ever: past the timeout, or when the service is cancelled, the connection is closed,
        // which fails the write, and the batch is sent again on the next connection.
        let timeout = channel.eventLoop.scheduleTask(in: Self.timeAmount(self.configuration.writeTimeout)) {
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        try await withTaskCancellationHandler {
            try await channel.writeAndFlush(buffer)
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    private func carryOut(_ action: SyslogStreamStateMachine<C.Instant>.Action, _ stream: inout Stream) {
        guard case .report(let report) = action else { return }
        let collector = "\(self.configuration.collector)"
        switch report {
        case .connected(let pending, let afterOutage):
            self.logger.info(
                afterOutage ? "syslog collector is back" : "syslog collector connected",
                metadata: ["collector": "\(collector)", "pending": "\(pending)"]
            )
        case .lost(let pending, let resendFrom, let retryIn):
            self.logger.warning(
                "syslog collector went away; entries not yet settled will be sent again",
                metadata: [
                    "collector": "\(collector)", "pending": "\(pending)", "resend_from": "\(resendFrom)",
                    "retry_in": "\(retryIn)",
                ].merging(stream.lastError.isEmpty ? [:] : ["error": "\(stream.lastError)"]) { $1 }
            )
        case .unreachable(let pending, let retryIn, let first):
            self.logger.log(
                level: first ? .warning : .debug,
                "syslog collector unreachable",
                metadata: [
                    "collector": "\(collector)", "pending": "\(pending)", "retry_in": "\(retryIn)",
                    "error": "\(stream.lastError)",
                ]
            )
        }
        stream.lastError = ""
    }

    /// Whether the collector's TCP stack acknowledged every byte written so far (Linux: no
    /// unacknowledged segment in `TCP_INFO`). False when it cannot be asked: then nothing settles.
    static func peerAcknowledged(_ channel: (any Channel)?) async -> Bool {
        guard let channel, channel.isActive else { return false }
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider,
            let info = try? await provider.getTCPInfo().get()
        else { return false }
        return info.tcpi_unacked == 0
        #else
        return true
        #endif
    }
}

extension AuditSyslogService where C == ContinuousClock {
    public init(log: AuditLog, configuration: Configuration, metrics: any MetricsFactory, logger: Logger) {
        self.init(log: log, configuration: configuration, clock: ContinuousClock(), metrics: metrics, logger: logger)
    }
}

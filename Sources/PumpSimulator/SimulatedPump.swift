public import NIOCore
import NIOPosix
public import PumpRuntime
public import PumpTLS

/// One simulated pump: its TLS profile and the session it resumes on reconnect.
public final class SimulatedPump: @unchecked Sendable {
    public let serial: String
    public let configuration: PumpTLSConfiguration
    public let serverName: String?
    /// The session to resume; set by the handler on the event loop once established.
    var session: PumpTLSSession?
    /// The command core (`--state-dir`); without it the pump takes no commands.
    public var runtime: PumpRuntime?
    /// The pairing code the pump shows and offers (`--pairing`); nil: it shows none.
    public var pairing: PumpPairing?
    /// The firmware version the hello announces (lockouts by firmware match it).
    public var firmware = SimulatedPump.defaultFirmware
    /// The highest telemetry sequence the gateway acknowledged, over all sessions.
    public internal(set) var lastAcknowledgedSequence: UInt64?
    /// The first command frame bodies this pump received, in order (read once its sessions
    /// ended: the demo replays one to the pump's runtime).
    public internal(set) var commandsReceived: [[UInt8]] = []
    /// How many received command bodies ``commandsReceived`` keeps (the first ones): enough for
    /// a demo's replay, bounded for a long fleet run.
    public static let maximumCommandsKept = 16
    /// Told about sessions and acknowledgements as they happen (a fleet's progress line).
    public let activity: PumpActivity?

    public init(
        serial: String,
        configuration: PumpTLSConfiguration,
        serverName: String?,
        activity: PumpActivity? = nil
    ) {
        self.serial = serial
        self.configuration = configuration
        self.serverName = serverName
        self.activity = activity
    }

    /// Drops the remembered session: the next connection runs a full handshake.
    public func forgetSession() { self.session = nil }

    /// Connects over TCP, runs one session, and remembers the TLS session for next time.
    /// With `responseTimeoutMilliseconds`, a message the gateway does not answer in time is
    /// sent once more, then the session fails (``PumpResponseTimeout``). Cancelling the task
    /// ends the session cleanly (close_notify) and returns its report.
    public func runSession(
        host: String,
        port: Int,
        telemetryCount: Int,
        intervalMilliseconds: Int64,
        firstTelemetrySequence: UInt64,
        responseTimeoutMilliseconds: Int64? = nil,
        tamperWithWrite: Int? = nil,
        group: any EventLoopGroup,
        benchmark: PumpBenchmark? = nil,
        onEstablished: (@Sendable (_ resumed: Bool) -> Void)? = nil
    ) async throws -> PumpSessionReport {
        // Handed over to the channel's event loop; this task never touches it again.
        nonisolated(unsafe) let tls = try PumpTLSConnection(
            configuration: self.configuration,
            serverName: self.serverName,
            resuming: self.session
        )
        let eventLoop = group.next()
        let done = eventLoop.makePromise(of: PumpSessionReport.self)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tamperWithWrite {
                        try channel.pipeline.syncOperations.addHandler(
                            LinkTamperHandler(flipBitInWrite: tamperWithWrite)
                        )
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        SimulatedPumpHandler(
                            tls: tls,
                            pump: self,
                            telemetryCount: telemetryCount,
                            intervalMilliseconds: intervalMilliseconds,
                            firstTelemetrySequence: firstTelemetrySequence,
                            responseTimeoutMilliseconds: responseTimeoutMilliseconds,
                            onEstablished: onEstablished,
                            benchmark: benchmark,
                            done: done
                        )
                    )
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            done.fail(error)
            throw error
        }
        let report = try await withTaskCancellationHandler {
            try await done.futureResult.get()
        } onCancel: {
            channel.pipeline.fireUserInboundEventTriggered(SimulatedPumpHandler.Stop())
        }
        try? await channel.closeFuture.get()
        return report
    }
}

import NIOCore
import PumpRuntime
import TunnelProtocol

extension SimulatedPump {
    public static let defaultFirmware = "medtunnel-sim-1"

    /// The hello: the runtime's last applied sequence and settings digest, or sequence 0 and
    /// a zero digest for a pump without a runtime (telemetry only).
    func hello() -> InnerMessage.Hello {
        if let runtime = self.runtime, let hello = try? runtime.hello(firmware: self.firmware) {
            return hello
        }
        return try! InnerMessage.Hello(
            lastAppliedSequence: 0,
            settingsDigest: [UInt8](repeating: 0, count: 32),
            firmware: self.firmware
        )
    }
}

extension SimulatedPumpHandler {
    /// Answers a command frame with the runtime's signed acknowledgement (state persisted
    /// first, on this event loop: a pump is one device with one flash). A pump without a
    /// runtime cannot take commands: the session ends with ``PumpCannotTakeCommands``.
    func answerCommand(_ body: [UInt8], _ context: ChannelHandlerContext) {
        guard let runtime = self.pump.runtime else {
            self.finish(context, .failure(PumpCannotTakeCommands(serial: self.pump.serial)))
            return
        }
        if self.pump.commandsReceived.count < SimulatedPump.maximumCommandsKept {
            self.pump.commandsReceived.append(body)
        }
        let acknowledgement = runtime.handle(commandBody: body, now: PumpRuntime.wallClock())
        self.send(.acknowledgement(acknowledgement), context)
        self.flush(context)
    }
}

/// A command arrived for a simulated pump started without `--state-dir`.
public struct PumpCannotTakeCommands: Error, CustomStringConvertible {
    public let serial: String
    public var description: String {
        "pump \(self.serial) received a command but has no state directory; start it with --state-dir DIR"
    }
}

import FirmwarePlatform
import PumpRuntime
import PumpTLS
import TherapyModel
import TunnelProtocol

/// The pump firmware's main loop on QEMU mps2-an386: the same pump core as `pump-sim`
/// (PumpTLS, PumpRuntime, TunnelProtocol, TherapyModel, compiled from the very same files),
/// with the board's link, clock and flash in place of NIO, the system clock and a file.
///
/// The demo story (firmware-profile/run-demo) it plays, session by session:
/// 1. full handshake; hello; telemetry, stored by the gateway; then commands are answered
///    (verified by mbedTLS, persisted to the flash slots, acknowledged with the device key)
///    until one was applied; close_notify — the link drops;
/// 2. resumed handshake (the session of 1); hello reporting the applied sequence; telemetry;
///    commands answered until the lockout reached the pump; close_notify; exit 0.
/// Progress and measurements go to the log UART as `firmware: ...` lines.
enum PumpFirmware {
    static let firmwareName = "medtunnel-fw-m4-1"
    /// How long a handshake waits for each answer of the gateway before it starts over on a new
    /// connection (below the gateway's own 10 s handshake limit; QEMU reconnects in 1 s).
    static let handshakeTimeout: UInt32 = 4_000
    static let commandTimeout: UInt32 = 120_000

    /// The pump model this firmware drives: the example 0.05 U pump (Examples/policy/pump-model.json,
    /// the model its certificate names); a device has its model built in, not read from JSON.
    static let model = PumpDefaults.typicalModel(named: "Example 0.05 U pump")

    static func provisioned(_ index: Int32) -> String? {
        var length = 0
        guard let bytes = fw_provision_string(index, &length) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }

    static func run() -> Int32 {
        log("firmware: boot (Cortex-M4, mbedTLS 2.28 pump profile, Embedded Swift)")
        guard let serial = provisioned(0), let serverName = provisioned(1), let caPEM = provisioned(2),
            let certificatePEM = provisioned(3), let keyPEM = provisioned(4), let commandPEM = provisioned(5)
        else {
            log("firmware: FAILED: no provisioning blob at 0x21000000 (load it with -device loader)")
            return 2
        }
        let model = Self.model
        // Two do blocks: each throws one error type (Embedded Swift has no `any Error`).
        let runtime: PumpRuntime
        do {
            runtime = try PumpRuntime(
                PumpRuntime.Configuration(
                    serial: serial,
                    model: model,
                    commandPublicKeyPEM: commandPEM,
                    deviceKeyPEM: keyPEM
                ),
                storage: FlashSlotStorage(flash: PlatformFlash()),
                factorySettings: PumpDefaults.factorySettings(for: model)
            )
        } catch {
            log("firmware: FAILED: the pump state: \(error)")
            return 3
        }
        let configuration: PumpTLSConfiguration
        do {
            configuration = try PumpTLSConfiguration(
                trustedCAPEM: caPEM,
                certificatePEM: certificatePEM,
                privateKeyPEM: keyPEM,
                maxFragmentLength: .bytes1024
            )
        } catch {
            log("firmware: FAILED: the TLS profile: \(error)")
            return 3
        }
        log("firmware: pump \(serial) state from flash: last applied sequence \(runtime.state.lastAppliedSequence)")
        log("firmware: heap after start \(fw_heap_in_use()) B, stack so far \(fw_stack_peak()) B")

        var session: PumpTLSSession?
        var pump = PumpSessionState()
        for number in 1...2 {
            // Session 1 ends once a bolus was applied, session 2 once the lockout arrived.
            let endsAfter: (PumpCommand) -> Bool = {
                switch $0 {
                case .change(.bolus): return number == 1
                case .lockoutStart: return number == 2
                default: return false
                }
            }
            guard
                let next = runSession(
                    number,
                    configuration: configuration,
                    serverName: serverName,
                    resuming: session,
                    runtime: runtime,
                    pump: &pump,
                    endsAfter: endsAfter
                )
            else { return 1 }
            session = next
        }
        log("firmware: heap peak (since last reset) \(fw_heap_peak()) B, heap break \(fw_heap_break()) B")
        log("firmware: stack peak \(fw_stack_peak()) B")
        log("firmware: DONE")
        return 0
    }

    /// What the pump keeps between sessions besides its durable state.
    struct PumpSessionState {
        var telemetrySequence: UInt64 = 1
        /// The pairing code the pump shows, made at the first hello accepted (by the gateway's
        /// time) and offered on each session while it is unexpired, as pump-sim does.
        var pairingCode: SignedPairingCode?
    }

    /// One session; returns the TLS session to resume next time, nil on failure. Commands are
    /// answered until one for which `endsAfter` holds was applied.
    static func runSession(
        _ number: Int,
        configuration: PumpTLSConfiguration,
        serverName: String,
        resuming: PumpTLSSession?,
        runtime: PumpRuntime,
        pump: inout PumpSessionState,
        endsAfter: (PumpCommand) -> Bool
    ) -> PumpTLSSession? {
        // The link may not be up yet (QEMU connects to the relay in the background) or may
        // still be closing: a handshake without an answer is tried again on a new connection.
        var link: LinkSession?
        for attempt in 1...10 {
            let tls: PumpTLSConnection
            do {
                tls = try PumpTLSConnection(configuration: configuration, serverName: serverName, resuming: resuming)
            } catch {
                log("firmware: FAILED: session \(number): \(error)")
                return nil
            }
            let candidate = LinkSession(tls)
            switch candidate.handshake(timeoutMilliseconds: handshakeTimeout) {
            case .established:
                link = candidate
            case .failed(let why):
                log("firmware: session \(number) handshake attempt \(attempt) failed: \(why)")
            }
            if link != nil { break }
        }
        guard let link else {
            log("firmware: FAILED: session \(number): no handshake after 10 attempts")
            return nil
        }
        let figures = link.figures
        log(
            "firmware: session \(number) established: \(link.tls.isResumed ? "resumed" : "full") handshake, "
                + "\(link.tls.negotiatedCipherSuiteName ?? "?"), sent \(figures.handshakeBytesSent) B, "
                + "received \(figures.handshakeBytesReceived) B, compute \(figures.handshakeComputeNanoseconds) ns, "
                + "heap peak \(figures.handshakeHeapPeak) B (\(figures.heapBeforeHandshake) B in use before)"
        )
        let exported = try? link.tls.exportSession()

        guard let hello = try? runtime.hello(firmware: firmwareName), link.send(.hello(hello)) else {
            log("firmware: FAILED: session \(number): hello")
            return nil
        }
        var telemetrySent = false
        while true {
            guard let message = link.next(timeoutMilliseconds: commandTimeout) else {
                log("firmware: FAILED: session \(number): the link closed or went quiet (\(link.tls.state))")
                return nil
            }
            switch message {
            case .helloAccepted(_, let gatewayTime):
                log("firmware: session \(number): hello accepted")
                offerPairingCode(runtime: runtime, gatewayTime: gatewayTime, pump: &pump, link: link)
                if !telemetrySent {
                    telemetrySent = true
                    var telemetry = InnerMessage.Telemetry(
                        sequence: pump.telemetrySequence,
                        timeMilliseconds: fw_now_ms(),
                        reservoirMilliunits: 150_000,
                        basalRateMilliunitsPerHour: 850,
                        glucoseMgPerDL: 110,
                        batteryPercent: 90
                    )
                    if runtime.state.mode.contains(.suspended) { telemetry.flags.insert(.suspended) }
                    if runtime.state.mode.contains(.lockedOut) { telemetry.flags.insert(.lockedOut) }
                    pump.telemetrySequence += 1
                    _ = link.send(.telemetry(telemetry))
                }
            case .telemetryStored(let sequence):
                log("firmware: session \(number): telemetry \(sequence) stored by the gateway")
            case .heartbeat(let nonce):
                _ = link.send(.heartbeatReply(nonce: nonce))
            case .command(let body):
                fw_heap_reset_peak()
                let start = fw_virtual_ns()
                let acknowledgement = runtime.handle(
                    commandBody: body,
                    now: Timestamp(millisecondsSinceEpoch: fw_now_ms())
                )
                let compute = fw_virtual_ns() - start
                let sent = link.send(.acknowledgement(acknowledgement))
                let result = acknowledgement.content.result
                log(
                    "firmware: session \(number): command sequence \(acknowledgement.content.sequence) "
                        + "verified and persisted to flash: \(describe(result)), acknowledged (compute \(compute) ns, "
                        + "heap peak \(fw_heap_peak()) B)"
                )
                let command = try? SignedCommand.decode(body[...]).envelope.command
                if sent, result == .applied, let command, endsAfter(command) {
                    log(
                        "firmware: session \(number): state now: last applied \(runtime.state.lastAppliedSequence), "
                            + "\(runtime.state.isLockedOut ? "locked out" : "not locked out")"
                    )
                    link.close()
                    log("firmware: session \(number) closed (close_notify): the link drops")
                    return exported ?? resuming
                }
            default:
                break
            }
        }
    }
}

extension PumpFirmware {
    /// Makes the pairing code at the first accepted hello, shows it (the log UART stands in for
    /// the pump's screen; the code is public, it is what the QR symbol holds) and offers it.
    static func offerPairingCode(
        runtime: PumpRuntime,
        gatewayTime: Int64,
        pump: inout PumpSessionState,
        link: LinkSession
    ) {
        let now = Timestamp(millisecondsSinceEpoch: gatewayTime)
        if pump.pairingCode == nil {
            var nonce = [UInt8](repeating: 0, count: PairingCode.nonceLength)
            nonce.withUnsafeMutableBufferPointer { fw_test_random($0.baseAddress, $0.count) }
            guard let code = try? runtime.pairingCode(nonce: nonce, now: now) else {
                log("firmware: could not make a pairing code")
                return
            }
            pump.pairingCode = code
            log("firmware: pairing code: \(code.text)")
        }
        if let code = pump.pairingCode, code.content.expiresAt > now {
            _ = link.send(.pairingOffer(InnerMessage.PairingOffer(code.content)))
        }
    }
}

func describe(_ result: CommandResult) -> String {
    switch result {
    case .applied: return "applied"
    case .refused(let refusal): return "refused (\(refusal))"
    }
}

@_cdecl("firmware_main")
public func firmwareMain() -> Int32 { PumpFirmware.run() }

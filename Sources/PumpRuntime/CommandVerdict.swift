import TherapyModel
import TunnelProtocol

/// What the pump does with a decoded, signature-checked command: the pure part of
/// `PumpRuntime.handle`, in the order the checks run.
enum CommandVerdict: Equatable {
    /// Refused without consuming the sequence: nothing is persisted (a forged, misaddressed
    /// or replayed envelope must not move the high-water mark).
    case refuse(CommandRefusal)
    /// The sequence is consumed: `state` (with the new high-water mark, and the change if
    /// applied) is persisted before the acknowledgement is sent.
    case consume(CommandResult, PumpState)

    /// 1. signature, 2. serial, 3. sequence above the high-water mark, 4. expiry and issue
    /// time against the pump's clock, 5. lockout (lockout commands always pass), 6. a bolus or
    /// temporary basal while delivery is suspended, 7. the pump's own hard limits; then apply.
    static func decide(
        _ envelope: CommandEnvelope,
        signatureIsValid: Bool,
        serial: String,
        model: PumpModel,
        state: PumpState,
        now: Timestamp
    ) -> CommandVerdict {
        guard signatureIsValid else { return .refuse(.badSignature) }
        // Serials are ASCII (DeviceIdentity's rules): byte equality is their equality, and it keeps
        // String's Unicode normalization (36 KB of tables) out of the firmware.
        guard envelope.serial.utf8.elementsEqual(serial.utf8) else { return .refuse(.wrongSerial) }
        guard envelope.sequence > state.highWaterSequence else { return .refuse(.replayedSequence) }

        var consumed = state
        consumed.highWaterSequence = envelope.sequence
        if let refusal = Self.refusal(envelope, model: model, state: state, now: now) {
            return .consume(.refused(refusal), consumed)
        }
        var applied = consumed.applying(envelope.command)
        applied.lastAppliedSequence = envelope.sequence
        return .consume(.applied, applied)
    }

    /// The checks after the sequence: the ones whose refusal consumes it.
    private static func refusal(
        _ envelope: CommandEnvelope,
        model: PumpModel,
        state: PumpState,
        now: Timestamp
    ) -> CommandRefusal? {
        if now >= envelope.expiresAt { return .expired }
        let (ahead, overflow) = envelope.issuedAt.millisecondsSinceEpoch.subtractingReportingOverflow(
            now.millisecondsSinceEpoch
        )
        if overflow || ahead > CommandLifetime.allowedClockSkewMilliseconds { return .notYetValid }
        if state.isLockedOut && !envelope.command.isLockoutCommand { return .lockedOut }
        if case .change(let change) = envelope.command, state.mode.contains(.suspended),
            PumpHardLimits.refusedWhileSuspended(change)
        {
            return .suspended
        }
        if case .change(let change) = envelope.command,
            case .exceeds(let violations) = PumpHardLimits.check(change, settings: state.settings, model: model)
        {
            return .hardLimit(violations[0].code)
        }
        return nil
    }
}

public import TherapyModel

/// What the pump did with a command: the result byte of an acknowledgement (0 = applied).
public enum CommandResult: Sendable, Hashable {
    case applied
    case refused(CommandRefusal)
}

/// Why a pump refused a command. The codes are stable: logged, stored in the audit log,
/// asserted by tests. The pump checks in this order and answers with the first failure:
///
/// | code | name             | when                                                                           |
/// |------|------------------|--------------------------------------------------------------------------------|
/// | 0x01 | malformed        | the envelope does not decode or breaks the spec (version, lengths, lifetime)   |
/// | 0x02 | badSignature     | the signature does not verify with the pinned command public key               |
/// | 0x03 | wrongSerial      | the envelope is for another pump                                               |
/// | 0x04 | replayedSequence | sequence ≤ the pump's persisted high-water mark (seen before, or older)        |
/// | 0x05 | expired          | the pump's clock is at or past `expiresAt`                                     |
/// | 0x06 | notYetValid      | `issuedAt` is more than the allowed skew (30 s) ahead of the pump's clock      |
/// | 0x07 | lockedOut        | a lockout is in force; only lockout commands apply                             |
/// | 0x08 | hardLimit        | the pump's own `PumpHardLimits` refused it; detail byte = first violation      |
/// | 0x09 | storageFailed    | the pump could not make its state durable; the command may or may not be in force after a restart: uncertain until the next hello |
///
/// Refusals from `expired` on (a valid signature for this pump and a fresh sequence) are
/// persisted as the new high-water mark like an applied command: a sequence that was
/// refused must never apply later, or the audit log (which recorded the refusal) and the
/// pump would disagree.
public enum CommandRefusal: Sendable, Hashable, CustomStringConvertible {
    case malformed
    case badSignature
    case wrongSerial
    case replayedSequence
    case expired
    case notYetValid
    case lockedOut
    case hardLimit(HardLimitViolation.Code)
    case storageFailed
    /// A bolus or temporary basal while insulin delivery is suspended (resume first).
    case suspended

    /// The result byte.
    public var code: UInt8 {
        switch self {
        case .malformed: 0x01
        case .badSignature: 0x02
        case .wrongSerial: 0x03
        case .replayedSequence: 0x04
        case .expired: 0x05
        case .notYetValid: 0x06
        case .lockedOut: 0x07
        case .hardLimit: 0x08
        case .storageFailed: 0x09
        case .suspended: 0x0A
        }
    }

    /// The stable name, e.g. `replayed_sequence` or `hard_limit:max_bolus_exceeded`.
    public var description: String {
        switch self {
        case .malformed: "malformed"
        case .badSignature: "bad_signature"
        case .wrongSerial: "wrong_serial"
        case .replayedSequence: "replayed_sequence"
        case .expired: "expired"
        case .notYetValid: "not_yet_valid"
        case .lockedOut: "locked_out"
        case .hardLimit(let violation): "hard_limit:" + violation.rawValue
        case .storageFailed: "storage_failed"
        case .suspended: "suspended"
        }
    }

    /// The detail byte: the violation's code for `hardLimit`, 0 otherwise.
    var detail: UInt8 {
        guard case .hardLimit(let violation) = self else { return 0 }
        return UInt8(Self.hardLimitCodes.firstIndex(of: violation)! + 1)
    }

    /// The inverse of `code` and `detail`; nil for a combination the spec does not allow.
    init?(code: UInt8, detail: UInt8) {
        if code == 0x08 {
            guard detail >= 1, Int(detail) <= Self.hardLimitCodes.count else { return nil }
            self = .hardLimit(Self.hardLimitCodes[Int(detail) - 1])
            return
        }
        guard detail == 0 else { return nil }
        switch code {
        case 0x01: self = .malformed
        case 0x02: self = .badSignature
        case 0x03: self = .wrongSerial
        case 0x04: self = .replayedSequence
        case 0x05: self = .expired
        case 0x06: self = .notYetValid
        case 0x07: self = .lockedOut
        case 0x09: self = .storageFailed
        case 0x0A: self = .suspended
        default: return nil
        }
    }

    /// Hard-limit violation codes on the wire: detail byte = index + 1. Append only.
    static let hardLimitCodes: [HardLimitViolation.Code] = [
        .controlNotSupported,  // 1
        .incrementMismatch,  // 2
        .bolusAbovePumpMaximum,  // 3
        .basalAbovePumpMaximum,  // 4
        .bolusAboveMaxBolus,  // 5
        .basalAboveMaxBasal,  // 6
        .maxBasalBelowScheduledBasal,  // 7
        .amountNotPositive,  // 8
        .rateNegative,  // 9
        .valueNotPositive,  // 10
        .tempBasalDurationInvalid,  // 11
        .scheduleTooManyEntries,  // 12
        .scheduleSegmentTooShort,  // 13
    ]
}

/// The pump's delivery mode after a command, in an acknowledgement.
public struct PumpMode: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// A lockout is in force: remote changes are refused.
    public static let lockedOut = PumpMode(rawValue: 1 << 0)
    /// Insulin delivery is stopped (a suspend command, or a lockout that suspends).
    public static let suspended = PumpMode(rawValue: 1 << 1)
    static let known: PumpMode = [.lockedOut, .suspended]
}

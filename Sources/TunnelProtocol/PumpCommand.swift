public import TherapyModel

/// What a command envelope asks a pump to do: one therapy change, or an emergency lockout.
///
/// The payload of each kind, as carried in the envelope (all integers big-endian):
///
/// | kind | name                  | payload                                               | length   |
/// |------|-----------------------|-------------------------------------------------------|----------|
/// | 0x01 | setBasalSchedule      | schedule of rate u32 mU/h                             | 1 + 5 k  |
/// | 0x02 | tempBasal             | rate u32 mU/h, duration u16 minutes                   | 6        |
/// | 0x03 | bolus                 | amount u32 mU                                         | 4        |
/// | 0x04 | setMaxBasal           | rate u32 mU/h                                         | 4        |
/// | 0x05 | setMaxBolus           | amount u32 mU                                         | 4        |
/// | 0x06 | setCarbRatios         | schedule of u32 g/U                                   | 1 + 5 k  |
/// | 0x07 | setSensitivities      | schedule of u32 mg/dL/U                               | 1 + 5 k  |
/// | 0x08 | setCorrectionRange    | schedule of lower u32 mg/dL, upper u32 mg/dL          | 1 + 9 k  |
/// | 0x09 | setSuspendThreshold   | u32 mg/dL                                             | 4        |
/// | 0x0A | suspend               | (none)                                                | 0        |
/// | 0x0B | resume                | (none)                                                | 0        |
/// | 0x40 | lockoutStart          | flags u8: bit 0 = also suspend delivery; others 0     | 1        |
/// | 0x41 | lockoutLift           | (none)                                                | 0        |
///
/// A schedule is `k` u8 (1…48) then `k` entries of slot u8 (start minute / 30, 0…47)
/// followed by the value(s). Entries obey `DailySchedule`'s rules (first at slot 0,
/// strictly increasing); anything else is malformed. Every quantity is an unsigned 32-bit
/// integer: a negative dose, rate or ratio cannot be written at all, and the encoder throws
/// `invalidField` for one rather than wrapping it. Each value has exactly one encoding, so
/// a decoded command re-encodes to the bytes that were signed.
public enum PumpCommand: Sendable, Hashable {
    case change(SettingChange)
    /// Refuse every remote change but a lockout command until lifted; `suspendDelivery`
    /// also stops insulin delivery (otherwise the current basal program keeps running).
    case lockoutStart(suspendDelivery: Bool)
    /// End the lockout. Whether two incident staff agreed is the gateway's check.
    case lockoutLift

    public var kind: CommandKind {
        switch self {
        case .change(let change):
            switch change {
            case .setBasalSchedule: .setBasalSchedule
            case .tempBasal: .tempBasal
            case .bolus: .bolus
            case .setMaxBasal: .setMaxBasal
            case .setMaxBolus: .setMaxBolus
            case .setCarbRatios: .setCarbRatios
            case .setSensitivities: .setSensitivities
            case .setCorrectionRange: .setCorrectionRange
            case .setSuspendThreshold: .setSuspendThreshold
            case .suspend: .suspend
            case .resume: .resume
            }
        case .lockoutStart: .lockoutStart
        case .lockoutLift: .lockoutLift
        }
    }

    /// Whether this is a lockout command (accepted while the pump is locked out).
    public var isLockoutCommand: Bool {
        switch self {
        case .lockoutStart, .lockoutLift: true
        case .change: false
        }
    }
}

/// The kind byte of a command: the table above.
public enum CommandKind: UInt8, Sendable, Hashable, CaseIterable {
    case setBasalSchedule = 0x01
    case tempBasal = 0x02
    case bolus = 0x03
    case setMaxBasal = 0x04
    case setMaxBolus = 0x05
    case setCarbRatios = 0x06
    case setSensitivities = 0x07
    case setCorrectionRange = 0x08
    case setSuspendThreshold = 0x09
    case suspend = 0x0A
    case resume = 0x0B
    case lockoutStart = 0x40
    case lockoutLift = 0x41

    /// Bytes per schedule entry for the schedule kinds, nil for fixed-size payloads.
    var scheduleEntryLength: Int? {
        switch self {
        case .setBasalSchedule, .setCarbRatios, .setSensitivities: 5
        case .setCorrectionRange: 9
        default: nil
        }
    }

    /// Whether a payload of `length` bytes fits this kind (checked before it is read).
    func allows(payloadLength length: Int) -> Bool {
        if let entry = self.scheduleEntryLength {
            let entries = (length - 1) / entry
            return length > 1 && (length - 1) % entry == 0 && entries <= PumpCommand.maximumScheduleEntries
        }
        switch self {
        case .tempBasal: return length == 6
        case .bolus, .setMaxBasal, .setMaxBolus, .setSuspendThreshold: return length == 4
        case .lockoutStart: return length == 1
        default: return length == 0
        }
    }

    /// The longest payload of any kind: a 48-entry correction range schedule.
    static let maximumPayloadLength = 1 + 9 * PumpCommand.maximumScheduleEntries
}

extension PumpCommand {
    /// One entry per 30-minute slot of the day.
    static let maximumScheduleEntries = 48
}

public import TherapyModel

/// How long a signed command stays valid, by kind: the gateway sets
/// `expiresAt = issuedAt + lifetime` and the pump refuses an envelope whose window is
/// longer than this table allows (`malformed`) or whose expiry its clock has passed
/// (`expired`). A command that expires undelivered is reported as expired, never re-sent:
/// a new request gets a new sequence, a new signature and a fresh safety decision.
///
/// | kind                                   | lifetime | why |
/// |----------------------------------------|----------|-----|
/// | bolus                                  | 5 min    | A bolus is dosed for the glucose and carbs of the moment. Delivered late, the patient may already have eaten, corrected or asked again: a late bolus is an overdose risk. |
/// | tempBasal                              | 5 min    | Computed from the current glucose trend (one CGM cycle); stale after that. |
/// | suspend, resume                        | 5 min    | A late suspend stops insulin the patient meanwhile resumed (hyperglycaemia); a late resume restarts insulin the patient meanwhile stopped (hypoglycaemia). |
/// | setBasalSchedule, setMaxBasal, setMaxBolus, setCarbRatios, setSensitivities, setCorrectionRange, setSuspendThreshold | 24 h | Standing orders from a clinician, not tied to the moment; pumps may be offline for hours. After a day the clinical context may have changed and the change should be decided again. |
/// | lockoutStart                           | 24 h     | Protective, must reach pumps that were offline; the gateway signs a fresh envelope (new sequence) for a lockout still in force when one expires. |
/// | lockoutLift                            | 1 h      | Needs two incident staff at the time; a lift lying around while an incident may re-escalate is itself a risk. |
///
/// Clock skew: the pump accepts an envelope issued up to ``allowedClockSkewMilliseconds``
/// ahead of its own clock (refused `notYetValid` beyond that). No skew is granted on the
/// expiry side: a command is never honoured after its expiry by the pump's clock.
public enum CommandLifetime {
    public static let minute: Int64 = 60_000

    /// How far ahead of the pump's clock an issue time may lie.
    public static let allowedClockSkewMilliseconds: Int64 = 30_000

    /// The longest `expiresAt - issuedAt` for `kind`, in milliseconds.
    public static func maximumMilliseconds(for kind: CommandKind) -> Int64 {
        switch kind {
        case .bolus, .tempBasal, .suspend, .resume:
            return 5 * minute
        case .setBasalSchedule, .setMaxBasal, .setMaxBolus, .setCarbRatios, .setSensitivities, .setCorrectionRange,
            .setSuspendThreshold:
            return 24 * 60 * minute
        case .lockoutStart:
            return 24 * 60 * minute
        case .lockoutLift:
            return 60 * minute
        }
    }
}

extension CommandLifetime {
    /// The lifetime of the command a therapy change of `kind` travels as: the one table for
    /// the gateway's queue (how long a queued change stays deliverable) and the envelope.
    public static func maximumMilliseconds(for kind: ControlKind) -> Int64 {
        maximumMilliseconds(for: CommandKind(kind))
    }
}

extension CommandKind {
    /// The command kind a therapy change of `kind` is sent as.
    public init(_ kind: ControlKind) {
        switch kind {
        case .setBasalSchedule: self = .setBasalSchedule
        case .tempBasal: self = .tempBasal
        case .bolus: self = .bolus
        case .setMaxBasal: self = .setMaxBasal
        case .setMaxBolus: self = .setMaxBolus
        case .setCarbRatios: self = .setCarbRatios
        case .setSensitivities: self = .setSensitivities
        case .setCorrectionRange: self = .setCorrectionRange
        case .setSuspendThreshold: self = .setSuspendThreshold
        case .suspend: self = .suspend
        case .resume: self = .resume
        }
    }
}

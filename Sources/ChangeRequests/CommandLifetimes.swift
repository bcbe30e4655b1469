public import TherapyModel

/// How long a queued command stays deliverable, from the moment it is queued (accepted, or
/// approved). Past that it is expired and never sent; a sent command carries the same expiry in
/// its envelope, and the pump refuses it after that by its own clock.
///
/// | kind                                   | lives  | why                                          |
/// |----------------------------------------|--------|----------------------------------------------|
/// | `bolus`                                | 5 min  | dosed for a meal or a reading now; delivered |
/// |                                        |        | late it may stack on a manual bolus          |
/// | `temp_basal`                           | 10 min | its start time is part of the intent         |
/// | `suspend`, `resume`                    | 15 min | urgent, but the patient may act on the pump  |
/// | schedules, maxima, ratios, thresholds  | 24 h   | not tied to the moment; reach the pump at    |
/// |                                        |        | its next connection within a day             |
///
/// The gateway may pass its own table (the command envelope's owner decides); this is the
/// default.
public struct CommandLifetimes: Sendable {
    public var milliseconds: @Sendable (ControlKind) -> Int64

    public init(milliseconds: @escaping @Sendable (ControlKind) -> Int64) {
        self.milliseconds = milliseconds
    }

    public static let `default` = CommandLifetimes { kind in
        switch kind {
        case .bolus: 5 * 60_000
        case .tempBasal: 10 * 60_000
        case .suspend, .resume: 15 * 60_000
        case .setBasalSchedule, .setMaxBasal, .setMaxBolus, .setCarbRatios, .setSensitivities, .setCorrectionRange,
            .setSuspendThreshold:
            24 * 60 * 60_000
        }
    }

    /// When a command of `kind` queued at `now` expires.
    public func expiry(of kind: ControlKind, queuedAt now: Timestamp) -> Timestamp {
        let (end, overflow) = now.millisecondsSinceEpoch.addingReportingOverflow(milliseconds(kind))
        return Timestamp(millisecondsSinceEpoch: overflow ? Int64.max : end)
    }
}

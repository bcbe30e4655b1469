import ChangeRequests
import TherapyModel

/// What the gateway believes about one pump, derived from the store alone (so a restarted
/// gateway believes the same): its settings and the insulin the policy must count.
enum PumpLedger {
    /// The settings the pump should hold: the clinician's baseline (set with the therapy
    /// version), moved on by every change the pump applied after it, in the pump's order.
    static func expectedSettings(baseline: TherapySettings, applied: [ChangeRequest]) -> TherapySettings {
        applied.reduce(baseline) { settings, request in settings.applying(request.change) }
    }

    /// Boluses and temporary basals for the policy's rate and daily limits: applied ones at
    /// the time the pump confirmed them; ones on their way (accepted, approved, queued, sent,
    /// uncertain) at `now`, as if delivered this moment, which is the safe side. A temporary
    /// basal counts its whole dose (rate × duration) at once.
    static func history(_ requests: [ChangeRequest], now: Timestamp) -> DeliveryHistory {
        var records: [DeliveryHistory.Record] = []
        for request in requests {
            let time = request.state == .applied ? request.updatedAt : now
            switch request.change {
            case .bolus(let amount):
                records.append(DeliveryHistory.Record(time: time, kind: .bolus, amount: amount))
            case .tempBasal(let rate, let minutes):
                let dose = rate.insulin(overMinutes: minutes) ?? Milliunits(Int64.max)
                records.append(DeliveryHistory.Record(time: time, kind: .basal, amount: dose))
            default:
                continue
            }
        }
        return DeliveryHistory(records: records)
    }

    /// How the pump's hello settles an uncertain command with `sequence`, given the last
    /// sequence it reports as applied. The gateway sends one command at a time and an
    /// uncertain one blocks the queue, so the uncertain command is the newest the pump can
    /// have seen: equal means applied; lower means not applied (never received, or refused),
    /// and it never will be, since the next command's higher sequence moves the pump's
    /// high-water mark past it. Higher cannot be told apart (the pump applied something the
    /// gateway never sent): nil, the command stays uncertain.
    static func settle(sequence: UInt64, lastApplied: UInt64) -> Reconciliation? {
        if lastApplied == sequence { return .applied }
        if lastApplied < sequence { return .notApplied }
        return nil
    }
}

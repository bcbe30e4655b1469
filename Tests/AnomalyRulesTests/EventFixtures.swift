import AnomalyRules

/// Events and times for the anomaly tests.
enum EventFixtures {
    static let second: Int64 = 1_000
    static let minute: Int64 = 60_000
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000
    /// A Tuesday in 2023, on a minute boundary.
    static let start: Int64 = 1_700_000_040_000

    /// A tunnel through `phone` failing with a record error: what `phone_tampering` counts.
    static func tampering(
        phone: String? = "PHONE-1",
        reason: String? = "recordRejected",
        kind: String = "tunnel_failed",
        at time: Int64
    ) -> ObservedEvent {
        ObservedEvent(
            timeMilliseconds: time,
            kind: kind,
            reason: reason,
            pump: "SN-100",
            phone: phone,
            detail: "the tunnel failed: \(reason ?? "no reason")"
        )
    }

    /// A handshake that failed before anyone authenticated, from `source`.
    static func handshakeFailure(
        source: String,
        reason: String = "certificateRejected",
        at time: Int64
    )
        -> ObservedEvent
    {
        ObservedEvent(
            timeMilliseconds: time,
            kind: "handshake_failed",
            reason: reason,
            source: source,
            detail: "handshake failed"
        )
    }

    /// An event `rule` counts, with subject value `subjectValue`; for a distinct rule the
    /// counted field is `DISTINCT-<variant>`.
    static func matching(_ rule: Rule, subjectValue: String, variant: Int, at time: Int64) -> ObservedEvent {
        var event = ObservedEvent(
            timeMilliseconds: time,
            kind: rule.kinds.sorted()[0],
            reason: rule.reasons?.sorted()[0],
            detail: "event \(variant)"
        )
        set(rule.subject, of: &event, to: subjectValue)
        if let distinct = rule.distinct {
            set(distinct, of: &event, to: "DISTINCT-\(variant)")
        }
        return event
    }

    static func set(_ field: RuleSubject, of event: inout ObservedEvent, to value: String) {
        switch field {
        case .pump: event.pump = value
        case .phone: event.phone = value
        }
    }
}

extension RuleEngine {
    /// Observes `events` in order; returns every firing.
    mutating func observe(_ events: [ObservedEvent]) -> [RuleFiring] {
        events.flatMap { self.observe($0) }
    }
}

/// Which field of an event keys a rule (`by=`) or is counted distinctly (`distinct=`).
public enum RuleSubject: String, Sendable, Hashable, CaseIterable {
    /// ``ObservedEvent/pump``: the pump's serial.
    case pump
    /// ``ObservedEvent/phone``: the relaying phone's id.
    case phone

    /// The event's value of this field; nil when the event lacks it (or it is empty).
    public func value(in event: ObservedEvent) -> String? {
        let value: String? =
            switch self {
            case .pump: event.pump
            case .phone: event.phone
            }
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

/// What a firing rule asks the gateway to do.
public enum RuleAction: String, Sendable, Hashable, CaseIterable {
    /// Tell the operators (audit entry, metric, webhook).
    case alert
    /// Alert, and lock out the rule's subject: the phone (`by=phone`) or the pump (`by=pump`).
    case lockout
}

/// One anomaly rule: count the events of some kinds (and reasons) per phone or per pump over
/// a sliding window, and fire when the count reaches a threshold.
///
/// In a rules file (see ``RuleSet``):
///
///     NAME kinds=a,b [reasons=x,y] by=phone|pump [distinct=phone|pump]
///          threshold=N window=DURATION action=alert|lockout
public struct Rule: Sendable, Equatable {
    /// Stable: it appears in audit entries and metrics. `[a-z0-9_-]{1,64}`, unique in a set.
    public var name: String
    /// The event kinds the rule counts.
    public var kinds: Set<String>
    /// The reasons the rule counts; nil counts any reason (and events without one).
    public var reasons: Set<String>?
    /// The field that keys the rule; events lacking it are ignored by the rule.
    public var subject: RuleSubject
    /// The rule fires when the count (or the distinct count) in the window reaches this.
    public var threshold: Int
    /// When set, the rule counts distinct values of this field instead of events (a pump seen
    /// behind 4 phones in a day: subject pump, distinct phone, threshold 4); events lacking the
    /// field are ignored.
    public var distinct: RuleSubject?
    /// The sliding window: events at least this old no longer count.
    public var windowMilliseconds: Int64
    public var action: RuleAction

    public init(
        name: String,
        kinds: Set<String>,
        reasons: Set<String>? = nil,
        subject: RuleSubject,
        threshold: Int,
        distinct: RuleSubject? = nil,
        windowMilliseconds: Int64,
        action: RuleAction
    ) {
        self.name = name
        self.kinds = kinds
        self.reasons = reasons
        self.subject = subject
        self.threshold = threshold
        self.distinct = distinct
        self.windowMilliseconds = windowMilliseconds
        self.action = action
    }

    /// Whether the rule counts an event of this kind and reason (before looking at its subject).
    public func counts(kind: String, reason: String?) -> Bool {
        guard self.kinds.contains(kind) else { return false }
        guard let reasons = self.reasons else { return true }
        guard let reason else { return false }
        return reasons.contains(reason)
    }

    /// The rule's line in a rules file (sets in sorted order).
    public var text: String {
        var tokens = [self.name, "kinds=" + self.kinds.sorted().joined(separator: ",")]
        if let reasons = self.reasons {
            tokens.append("reasons=" + reasons.sorted().joined(separator: ","))
        }
        tokens.append("by=" + self.subject.rawValue)
        if let distinct = self.distinct {
            tokens.append("distinct=" + distinct.rawValue)
        }
        tokens.append("threshold=\(self.threshold)")
        tokens.append("window=" + RuleDuration.render(self.windowMilliseconds))
        tokens.append("action=" + self.action.rawValue)
        return tokens.joined(separator: " ")
    }
}

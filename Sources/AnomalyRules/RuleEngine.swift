/// Applies a ``RuleSet`` to observed events: a pure value, time comes from the events.
///
/// Each rule keeps a sliding window per subject value (per phone, per pump). When the count of
/// matching events in the window (or, for a `distinct` rule, of distinct values) reaches the
/// rule's threshold, the rule fires once and returns a ``RuleFiring``. The same rule and
/// subject value then stay quiet until a full window has passed since the firing; after that
/// the window starts afresh.
///
/// Memory is bounded: at most `maximumTrackedKeys` (rule, subject value) windows are kept,
/// the least recently updated evicted when full, and each window keeps at most `threshold`
/// times (or distinct values) plus 20 events of evidence.
public struct RuleEngine: Sendable {
    private struct WindowKey: Hashable, Sendable {
        var rule: Int
        var subjectValue: String
    }

    public let rules: RuleSet
    public let maximumTrackedKeys: Int
    /// The indices of the rules that count each kind.
    private let rulesByKind: [String: [Int]]
    private var windows: RecencyTable<WindowKey, RuleWindow>

    public init(rules: RuleSet, maximumTrackedKeys: Int = 50_000) {
        for rule in rules.rules {
            precondition(
                rule.threshold >= 1,
                "rule \(rule.name): the threshold must be at least 1, not \(rule.threshold)"
            )
            precondition(
                rule.windowMilliseconds > 0,
                "rule \(rule.name): the window must be positive, not \(rule.windowMilliseconds) ms"
            )
        }
        precondition(maximumTrackedKeys >= 1, "maximumTrackedKeys must be at least 1, not \(maximumTrackedKeys)")
        self.rules = rules
        self.maximumTrackedKeys = maximumTrackedKeys
        var rulesByKind: [String: [Int]] = [:]
        for (index, rule) in rules.rules.enumerated() {
            for kind in rule.kinds { rulesByKind[kind, default: []].append(index) }
        }
        self.rulesByKind = rulesByKind
        self.windows = RecencyTable(capacity: maximumTrackedKeys)
    }

    /// How many (rule, subject value) windows are held (at most ``maximumTrackedKeys``).
    public var trackedKeyCount: Int { self.windows.count }

    /// Counts `event` into every rule it matches; returns the rules that fire now, in the
    /// rule set's order.
    public mutating func observe(_ event: ObservedEvent) -> [RuleFiring] {
        var firings: [RuleFiring] = []
        for index in self.rulesByKind[event.kind] ?? [] {
            let rule = self.rules.rules[index]
            guard rule.counts(kind: event.kind, reason: event.reason),
                let subjectValue = rule.subject.value(in: event)
            else { continue }
            var distinctValue: String? = nil
            if let distinct = rule.distinct {
                guard let value = distinct.value(in: event) else { continue }
                distinctValue = value
            }
            let key = WindowKey(rule: index, subjectValue: subjectValue)
            let fired = self.windows.update(key, default: RuleWindow()) { window in
                window.observe(event, distinctValue: distinctValue, rule: rule)
            }
            guard let fired else { continue }
            firings.append(
                RuleFiring(
                    rule: rule.name,
                    action: rule.action,
                    subject: rule.subject,
                    subjectValue: subjectValue,
                    count: fired.count,
                    evidence: fired.evidence,
                    timeMilliseconds: event.timeMilliseconds,
                    windowMilliseconds: rule.windowMilliseconds,
                    distinct: rule.distinct
                )
            )
        }
        return firings
    }
}

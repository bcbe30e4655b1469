/// A rule that fired: which rule, for which phone or pump, on what evidence.
public struct RuleFiring: Sendable, Equatable, CustomStringConvertible {
    /// The rule's name (stable: audit entries and metrics use it).
    public var rule: String
    public var action: RuleAction
    /// The field that keys the rule: the action applies to this phone or pump.
    public var subject: RuleSubject
    /// The pump's serial or the phone's id.
    public var subjectValue: String
    /// The count (or the distinct count) that reached the threshold.
    public var count: Int
    /// The events in the window that made the rule fire, at most 20, newest last (for a
    /// distinct rule, the newest event of each distinct value).
    public var evidence: [ObservedEvent]
    /// The time of the event that made the rule fire.
    public var timeMilliseconds: Int64
    /// The rule's window.
    public var windowMilliseconds: Int64
    /// The field the rule counts distinctly, if it does.
    public var distinct: RuleSubject?

    public init(
        rule: String,
        action: RuleAction,
        subject: RuleSubject,
        subjectValue: String,
        count: Int,
        evidence: [ObservedEvent],
        timeMilliseconds: Int64,
        windowMilliseconds: Int64,
        distinct: RuleSubject? = nil
    ) {
        self.rule = rule
        self.action = action
        self.subject = subject
        self.subjectValue = subjectValue
        self.count = count
        self.evidence = evidence
        self.timeMilliseconds = timeMilliseconds
        self.windowMilliseconds = windowMilliseconds
        self.distinct = distinct
    }

    /// One line for humans, e.g.
    /// `phone_tampering: phone PHONE-2: 3 tunnel_failed events in 10m (recordRejected, truncated)` or
    /// `pump_many_phones: pump SN-1: 4 distinct phones in 1d (P-1, P-2, P-3, P-4)`.
    public var description: String {
        let window = RuleDuration.render(self.windowMilliseconds)
        let head = "\(self.rule): \(self.subject.rawValue) \(self.subjectValue): "
        if let distinct = self.distinct {
            let values = Self.unique(self.evidence.compactMap { distinct.value(in: $0) })
            return head + "\(self.count) distinct \(distinct.rawValue)s in \(window)" + Self.parenthesised(values)
        }
        let kinds = Self.unique(self.evidence.map(\.kind)).joined(separator: "/")
        let reasons = Self.unique(self.evidence.compactMap(\.reason))
        let noun = self.count == 1 ? "event" : "events"
        return head + "\(self.count) \(kinds) \(noun) in \(window)" + Self.parenthesised(reasons)
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    private static func parenthesised(_ values: [String]) -> String {
        let shown = 6
        guard !values.isEmpty else { return "" }
        let more = values.count > shown ? ", and \(values.count - shown) more" : ""
        return " (" + values.prefix(shown).joined(separator: ", ") + more + ")"
    }
}

/// The sliding window of one rule for one subject value (one phone, one pump).
///
/// Holds at most `threshold` event times (or distinct values) plus ``evidenceLimit`` events:
/// the rule fires as soon as the count reaches the threshold, and then forgets them.
struct RuleWindow: Sendable {
    /// The most events a firing carries as evidence.
    static let evidenceLimit = 20

    /// Counting rules: the times of the events in the window, oldest first.
    private var times: [Int64] = []
    /// Distinct rules: each distinct value in the window and when it was last seen.
    private var lastSeen: [String: Int64] = [:]
    /// The newest events in the window, oldest first; for a distinct rule, the newest event of
    /// each distinct value.
    private var evidence: [ObservedEvent] = []
    /// The newest event time seen: the window's "now".
    private var latest = Int64.min
    /// When the rule last fired for this subject; it stays quiet for a window after.
    private var firedAt: Int64?

    /// Counts `event` (already matched to the rule and its subject); returns the count and the
    /// evidence when the rule fires.
    mutating func observe(
        _ event: ObservedEvent,
        distinctValue: String?,
        rule: Rule
    ) -> (count: Int, evidence: [ObservedEvent])? {
        let time = event.timeMilliseconds
        let window = rule.windowMilliseconds
        if let firedAt = self.firedAt {
            guard Self.elapsed(from: firedAt, to: time) >= window else { return nil }
            self = RuleWindow()
        }
        self.latest = max(self.latest, time)
        // Events at or before the horizon have fallen out of the window.
        let horizon = Self.elapsed(from: window, to: self.latest)
        guard time > horizon else { return nil }
        self.prune(after: horizon)

        let count: Int
        if let distinctValue, let distinct = rule.distinct {
            self.lastSeen[distinctValue] = max(self.lastSeen[distinctValue] ?? time, time)
            if self.lastSeen.count > rule.threshold, let stalest = self.lastSeen.min(by: { $0.value < $1.value }) {
                self.lastSeen[stalest.key] = nil
            }
            self.evidence.removeAll { distinct.value(in: $0) == distinctValue }
            count = self.lastSeen.count
        } else {
            let position = self.times.lastIndex { $0 <= time }.map { $0 + 1 } ?? 0
            self.times.insert(time, at: position)
            if self.times.count > rule.threshold { self.times.removeFirst(self.times.count - rule.threshold) }
            count = self.times.count
        }
        self.addEvidence(event)

        guard count >= rule.threshold else { return nil }
        let firing = (count: count, evidence: self.evidence)
        self = RuleWindow()
        self.firedAt = time
        self.latest = time
        return firing
    }

    private mutating func prune(after horizon: Int64) {
        if let firstKept = self.times.firstIndex(where: { $0 > horizon }) {
            self.times.removeFirst(firstKept)
        } else {
            self.times.removeAll()
        }
        self.lastSeen = self.lastSeen.filter { $0.value > horizon }
        self.evidence.removeAll { $0.timeMilliseconds <= horizon }
    }

    private mutating func addEvidence(_ event: ObservedEvent) {
        let position = self.evidence.lastIndex { $0.timeMilliseconds <= event.timeMilliseconds }.map { $0 + 1 } ?? 0
        self.evidence.insert(event, at: position)
        if self.evidence.count > Self.evidenceLimit {
            self.evidence.removeFirst(self.evidence.count - Self.evidenceLimit)
        }
    }

    /// `end - start`, saturating instead of overflowing.
    private static func elapsed(from start: Int64, to end: Int64) -> Int64 {
        let (difference, overflow) = end.subtractingReportingOverflow(start)
        guard overflow else { return difference }
        return end > start ? .max : .min
    }
}

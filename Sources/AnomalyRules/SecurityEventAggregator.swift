/// Bounded aggregation of security events for the audit log, so that a flood (a scanner
/// failing handshakes, a phone cutting every record) writes a bounded number of entries.
///
/// Events are grouped into buckets by (subject, kind, reason, minute), where the subject is
/// ``ObservedEvent/auditSubject`` and the minute is `timeMilliseconds / 60_000`. The first event
/// of a bucket is written as it is (``AggregationDecision/writeNow(_:)``); later ones are only
/// counted (``AggregationDecision/folded``), and ``flush(now:)`` returns one
/// ``AggregatedEntry`` with the count for each bucket whose minute has ended.
///
/// **Bound.** At most `maximumBuckets` buckets are open at once. When they are all taken, an
/// event that would open a new bucket goes into the single overflow bucket of its (kind,
/// minute), subject `*`, so memory stays bounded and the count is still written. Each bucket
/// writes at most two entries (its first event, and its count when its minute ends), so a
/// minute of events writes at most `2 × (maximumBuckets + K)` audit entries, where K is the
/// number of distinct kinds seen in that minute — at most `maximumBuckets` + one overflow per
/// kind buckets, however many events arrive.
///
/// A pure value: time comes from the events and from `flush(now:)`; nothing is written here.
public struct SecurityEventAggregator: Sendable {
    private struct BucketKey: Hashable, Sendable {
        var subject: String
        var kind: String
        var reason: String?
        var minute: Int64
    }

    private struct Bucket: Sendable {
        var first: ObservedEvent
        var folded: Int
    }

    static let minuteMilliseconds: Int64 = 60_000
    /// The subject of an overflow bucket.
    public static let overflowSubject = "*"

    /// The most (subject, kind, reason, minute) buckets held at once.
    public let maximumBuckets: Int
    private var buckets: [BucketKey: Bucket] = [:]
    /// Overflow buckets, keyed by (kind, minute) with subject `*` and no reason.
    private var overflow: [BucketKey: Bucket] = [:]

    public init(maximumBuckets: Int = 10_000) {
        precondition(maximumBuckets >= 0, "maximumBuckets must not be negative, not \(maximumBuckets)")
        self.maximumBuckets = maximumBuckets
    }

    /// Open buckets, overflow buckets included.
    public var openBucketCount: Int { self.buckets.count + self.overflow.count }

    /// Counts `event` into its bucket; says whether to write it now.
    public mutating func record(_ event: ObservedEvent) -> AggregationDecision {
        let minute = Self.minute(of: event.timeMilliseconds)
        let key = BucketKey(subject: event.auditSubject, kind: event.kind, reason: event.reason, minute: minute)
        if let index = self.buckets.index(forKey: key) {
            self.buckets.values[index].folded += 1
            return .folded
        }
        if self.buckets.count < self.maximumBuckets {
            self.buckets[key] = Bucket(first: event, folded: 0)
            return .writeNow(event)
        }
        let overflowKey = BucketKey(subject: Self.overflowSubject, kind: event.kind, reason: nil, minute: minute)
        if let index = self.overflow.index(forKey: overflowKey) {
            self.overflow.values[index].folded += 1
            return .folded
        }
        self.overflow[overflowKey] = Bucket(first: event, folded: 0)
        return .writeNow(event)
    }

    /// For every bucket whose minute has ended by `now` (milliseconds since 1970): an entry
    /// with its count if events were folded into it. Ended buckets are forgotten; buckets of
    /// the current minute (or later) stay open. Entries come ordered by minute, subject, kind
    /// and reason.
    public mutating func flush(now: Int64) -> [AggregatedEntry] {
        let currentMinute = Self.minute(of: now)
        var entries: [AggregatedEntry] = []
        Self.drain(&self.buckets, before: currentMinute, into: &entries)
        Self.drain(&self.overflow, before: currentMinute, into: &entries)
        entries.sort { a, b in
            (a.minuteStartMilliseconds, a.subject, a.kind, a.reason ?? "")
                < (b.minuteStartMilliseconds, b.subject, b.kind, b.reason ?? "")
        }
        return entries
    }

    private static func drain(
        _ buckets: inout [BucketKey: Bucket],
        before currentMinute: Int64,
        into entries: inout [AggregatedEntry]
    ) {
        var ended = false
        for (key, bucket) in buckets where key.minute < currentMinute {
            ended = true
            guard bucket.folded > 0 else { continue }
            entries.append(
                AggregatedEntry(
                    subject: key.subject,
                    kind: key.kind,
                    reason: key.reason,
                    minuteStartMilliseconds: key.minute * Self.minuteMilliseconds,
                    foldedCount: bucket.folded,
                    first: bucket.first
                )
            )
        }
        if ended {
            buckets = buckets.filter { $0.key.minute >= currentMinute }
        }
    }

    /// The minute a time falls in, rounding down (also before 1970).
    static func minute(of milliseconds: Int64) -> Int64 {
        let (quotient, remainder) = milliseconds.quotientAndRemainder(dividingBy: Self.minuteMilliseconds)
        return remainder < 0 ? quotient - 1 : quotient
    }
}

/// What to do with one observed event in the audit log (``SecurityEventAggregator/record(_:)``).
public enum AggregationDecision: Sendable, Hashable {
    /// The first event of its bucket: write it to the audit log as it is.
    case writeNow(ObservedEvent)
    /// Counted into its bucket; the count is written by ``SecurityEventAggregator/flush(now:)``
    /// once the bucket's minute has ended.
    case folded
}

/// One audit entry summarising the events folded into a bucket: the events of one subject,
/// kind and reason within one minute, beyond the first (which was written as it came).
public struct AggregatedEntry: Sendable, Hashable {
    /// ``ObservedEvent/auditSubject`` of the bucket's events, or `*` for the overflow bucket of
    /// a kind (subjects that found no free bucket).
    public var subject: String
    public var kind: String
    /// The bucket's reason; nil for an overflow bucket, which holds every reason.
    public var reason: String?
    /// The start of the bucket's minute, in milliseconds since 1970.
    public var minuteStartMilliseconds: Int64
    /// How many events were folded into the bucket beyond ``first``.
    public var foldedCount: Int
    /// The bucket's first event (already written when it came).
    public var first: ObservedEvent

    public init(
        subject: String,
        kind: String,
        reason: String?,
        minuteStartMilliseconds: Int64,
        foldedCount: Int,
        first: ObservedEvent
    ) {
        self.subject = subject
        self.kind = kind
        self.reason = reason
        self.minuteStartMilliseconds = minuteStartMilliseconds
        self.foldedCount = foldedCount
        self.first = first
    }

    /// All the bucket's events: the first and the folded ones.
    public var totalCount: Int { self.foldedCount + 1 }

    /// A one-line human summary, e.g.
    /// `handshake_failed (certificateRevoked) from 203.0.113.7: 9999 more in the minute from 1700000040000`.
    public var summary: String {
        let reason = self.reason.map { " (\($0))" } ?? ""
        let subject = self.subject == "*" ? "subjects beyond the bucket limit" : self.subject
        return "\(self.kind)\(reason) from \(subject): \(self.foldedCount) more in the minute from "
            + "\(self.minuteStartMilliseconds)"
    }
}

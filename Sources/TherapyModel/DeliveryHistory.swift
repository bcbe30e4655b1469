/// Insulin the pump reported as delivered, used for rate-of-change and daily totals.
public struct DeliveryHistory: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case bolus
        case basal
    }

    /// One delivery: `amount` of insulin of `kind`, completed at `time`.
    /// Basal delivery is reported as amounts per interval, like boluses.
    public struct Record: Sendable, Hashable {
        public let time: Timestamp
        public let kind: Kind
        public let amount: Milliunits

        public init(time: Timestamp, kind: Kind, amount: Milliunits) {
            self.time = time
            self.kind = kind
            self.amount = amount
        }
    }

    public let records: [Record]

    public init(records: [Record]) {
        self.records = records
    }

    public static let empty = DeliveryHistory(records: [])

    /// Total insulin of the given kinds delivered in the `minutes` before `now`.
    ///
    /// Errs on the safe side: records dated after `now` (clock skew) are counted, a
    /// record exactly `minutes` old is counted, a negative window is empty (only `now` and later), negative amounts count as zero (they
    /// cannot lower a total), and the sum saturates at `Int64.max` instead of overflowing.
    public func total(of kinds: [Kind], inLastMinutes minutes: Int64, now: Timestamp) -> Milliunits {
        let windowStart = now.advanced(byMinutes: -max(minutes, 0))
        var total = Milliunits.zero
        for record in records where kinds.contains(record.kind) && record.time >= windowStart {
            total = total.addingSaturating(max(record.amount, .zero))
        }
        return total
    }
}

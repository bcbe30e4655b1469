/// A point in time as milliseconds since 1970-01-01T00:00:00Z (UTC).
///
/// Foundation-free so the pump firmware, the command envelope and the audit log can
/// share it. Time is always passed in (`now:`); nothing here reads a clock.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    /// This time moved by `minutes` (negative: earlier), clamped at the ends of the
    /// 64-bit range instead of overflowing.
    public func advanced(byMinutes minutes: Int64) -> Timestamp {
        let (delta, deltaOverflow) = minutes.multipliedReportingOverflow(by: 60_000)
        if deltaOverflow {
            return Timestamp(millisecondsSinceEpoch: minutes > 0 ? Int64.max : Int64.min)
        }
        let (sum, overflow) = millisecondsSinceEpoch.addingReportingOverflow(delta)
        if overflow {
            return Timestamp(millisecondsSinceEpoch: delta > 0 ? Int64.max : Int64.min)
        }
        return Timestamp(millisecondsSinceEpoch: sum)
    }

    public var description: String {
        "\(millisecondsSinceEpoch) ms since epoch"
    }
}

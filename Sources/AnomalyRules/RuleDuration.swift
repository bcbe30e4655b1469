/// Durations in rules files: `Ns`, `Nm`, `Nh` or `Nd` with N a positive whole number (and
/// `Nms`, which ``render(_:)`` writes for a window that is not whole seconds). Also the syntax of
/// duration options (`medtunnel gateway --checkpoint-interval 10s`).
public enum RuleDuration {
    /// Units, largest first.
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ]
    /// The longest window a rules file may give.
    static let maximumMilliseconds: Int64 = 366 * 86_400_000

    /// The duration in milliseconds, or nil if `text` is not a positive duration.
    public static func parse(_ text: Substring) -> Int64? {
        // `ms` before `s` and `m`: match the longest suffix.
        let unit = Self.units.sorted { $0.suffix.count > $1.suffix.count }.first { text.hasSuffix($0.suffix) }
        guard let unit else { return nil }
        let digits = text.dropLast(unit.suffix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let count = Int64(digits) else {
            return nil
        }
        let (milliseconds, overflow) = count.multipliedReportingOverflow(by: unit.milliseconds)
        guard !overflow, milliseconds > 0 else { return nil }
        return milliseconds
    }

    /// `milliseconds` in the largest unit that divides it: 600000 → `10m`.
    public static func render(_ milliseconds: Int64) -> String {
        for unit in Self.units where milliseconds != 0 && milliseconds % unit.milliseconds == 0 {
            return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
        }
        return "\(milliseconds)ms"
    }
}

import DurationText

/// Durations in rules files: `Ns`, `Nm`, `Nh` or `Nd` with N a positive whole number (and
/// `Nms`, which ``render(_:)`` writes for a window that is not whole seconds): DurationText's
/// syntax, the same as every duration option's.
public enum RuleDuration {
    /// The longest window a rules file may give.
    static let maximumMilliseconds: Int64 = 366 * 86_400_000

    /// The duration in milliseconds, or nil if `text` is not a positive duration.
    public static func parse(_ text: Substring) -> Int64? {
        DurationText.milliseconds(text)
    }

    /// `milliseconds` in the largest unit that divides it: 600000 → `10m`.
    public static func render(_ milliseconds: Int64) -> String {
        DurationText.render(milliseconds)
    }
}

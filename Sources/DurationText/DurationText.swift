/// The one syntax of durations in MedTunnel's options, configuration files and rules files: a
/// whole number followed by a unit, `250ms`, `10s`, `15m`, `12h` or `2d`.
///
/// A few options took a bare number before units existed (`pump-sim --interval 1000` in
/// milliseconds, `gateway --access-log-interval 5` in seconds); scripts still pass them, so such
/// an option says which unit a bare number is in (``BareNumber``) and every other option refuses
/// one. Foundation-free, so the pump-side and rules code can share it.
public enum DurationText {
    /// What a number without a unit means for one option.
    public enum BareNumber: Sendable, Equatable {
        /// Refused: a unit is required.
        case refused
        /// Milliseconds, as the option took before units.
        case milliseconds
        /// Seconds, as the option took before units.
        case seconds

        var scale: Int64? {
            switch self {
            case .refused: nil
            case .milliseconds: 1
            case .seconds: 1_000
            }
        }
    }

    /// Units, largest first.
    static let units: [(suffix: String, milliseconds: Int64)] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ]

    /// The duration of `text` in milliseconds, or nil if it is not one. Zero is refused unless
    /// `allowsZero` (an option where 0 means "never" or "none").
    public static func milliseconds<S: StringProtocol>(
        _ text: S,
        bare: BareNumber = .refused,
        allowsZero: Bool = false
    ) -> Int64? {
        let text = Substring(text)
        // `ms` before `m` and `s`: match the longest suffix.
        let unit = Self.units.sorted { $0.suffix.count > $1.suffix.count }.first { text.hasSuffix($0.suffix) }
        let digits: Substring
        let scale: Int64
        if let unit {
            digits = text.dropLast(unit.suffix.count)
            scale = unit.milliseconds
        } else if text == "0" && allowsZero {
            return 0
        } else if let bareScale = bare.scale {
            digits = text
            scale = bareScale
        } else {
            return nil
        }
        guard !digits.isEmpty, digits.utf8.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let count = Int64(digits)
        else {
            return nil
        }
        let (milliseconds, overflow) = count.multipliedReportingOverflow(by: scale)
        guard !overflow, milliseconds > 0 || (allowsZero && milliseconds == 0) else { return nil }
        return milliseconds
    }

    /// Whether `text` is a positive whole number and a unit too large to count in milliseconds, so
    /// that a caller can say "too long" rather than "not a duration".
    public static func isTooLarge<S: StringProtocol>(_ text: S) -> Bool {
        let text = Substring(text)
        guard
            let unit = Self.units.sorted(by: { $0.suffix.count > $1.suffix.count }).first(where: {
                text.hasSuffix($0.suffix)
            })
        else { return false }
        let digits = text.dropLast(unit.suffix.count)
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber } && digits.contains { $0 != "0" }
            && Self.milliseconds(text) == nil
    }

    /// The duration of `text`, or nil if it is not one (see ``milliseconds(_:bare:allowsZero:)``).
    public static func duration<S: StringProtocol>(
        _ text: S,
        bare: BareNumber = .refused,
        allowsZero: Bool = false
    ) -> Duration? {
        Self.milliseconds(text, bare: bare, allowsZero: allowsZero).map { .milliseconds($0) }
    }

    /// What an option accepts, for its error message and help text.
    public static func accepted(bare: BareNumber = .refused, allowsZero: Bool = false) -> String {
        var text = "a whole number followed by ms, s, m, h or d (250ms, 10s, 15m, 12h)"
        if allowsZero { text += ", or 0" }
        switch bare {
        case .refused: break
        case .milliseconds: text += "; a bare number is milliseconds, as before"
        case .seconds: text += "; a bare number is seconds, as before"
        }
        return text
    }

    /// `milliseconds` in the largest unit that divides it: 600000 → `10m`, 0 → `0`.
    public static func render(_ milliseconds: Int64) -> String {
        for unit in Self.units where milliseconds != 0 && milliseconds % unit.milliseconds == 0 {
            return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
        }
        return milliseconds == 0 ? "0" : "\(milliseconds)ms"
    }
}

/// A duration option's value refused: names the option, the value and the accepted forms.
public struct DurationTextError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(option: String, value: String, bare: DurationText.BareNumber = .refused, allowsZero: Bool = false) {
        self.description =
            "\(option) '\(value)' is not a duration: expected \(DurationText.accepted(bare: bare, allowsZero: allowsZero))"
    }

    public init(option: String, value: String, range: String) {
        self.description = "\(option) '\(value)' is out of range: expected a duration \(range)"
    }
}

extension DurationText {
    /// The duration of an option's value, or an error naming the option, the value and the
    /// accepted forms.
    public static func option(
        _ option: String,
        _ text: String,
        bare: BareNumber = .refused,
        allowsZero: Bool = false
    ) throws(DurationTextError) -> Duration {
        guard let duration = Self.duration(text, bare: bare, allowsZero: allowsZero) else {
            throw DurationTextError(option: option, value: text, bare: bare, allowsZero: allowsZero)
        }
        return duration
    }
}

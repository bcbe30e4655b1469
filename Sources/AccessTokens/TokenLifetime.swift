import DurationText

/// How long a bearer token lives: whole seconds, 1 s ... `maximum`.
///
/// Tokens are short-lived because they cannot be revoked one by one (disabling the account
/// stops all of a user's tokens at once). The ceiling of 12 hours covers one clinical shift.
public struct TokenLifetime: Sendable, Hashable, CustomStringConvertible {
    public static let maximum = TokenLifetime(checkedSeconds: 12 * 3600)
    public static let `default` = TokenLifetime(checkedSeconds: 15 * 60)

    public let seconds: Int64

    private init(checkedSeconds: Int64) {
        self.seconds = checkedSeconds
    }

    public init(seconds: Int64) throws(TokenError) {
        guard seconds > 0 else {
            throw TokenError(.invalidLifetime, "token lifetime \(seconds) s: must be at least 1 s")
        }
        guard seconds <= Self.maximum.seconds else {
            throw TokenError(
                .lifetimeTooLong,
                "token lifetime \(seconds) s: longer than the maximum of \(Self.maximum); issue a shorter token"
            )
        }
        self.seconds = seconds
    }

    /// Parses `90s`, `15m` or `12h` (DurationText's syntax, in whole seconds).
    public init(parsing text: String) throws(TokenError) {
        if DurationText.isTooLarge(text) {
            throw TokenError(.lifetimeTooLong, "ttl '\(text)': longer than the maximum of \(Self.maximum)")
        }
        guard let milliseconds = DurationText.milliseconds(text), milliseconds % 1_000 == 0 else {
            throw TokenError(
                .invalidLifetime,
                "ttl '\(text)': expected whole seconds: \(DurationText.accepted()) (at most \(Self.maximum))"
            )
        }
        do {
            try self.init(seconds: milliseconds / 1_000)
        } catch {
            throw TokenError(error.code, "ttl '\(text)': \(error.reason)")
        }
    }

    public var description: String {
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

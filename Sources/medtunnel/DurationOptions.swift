import ArgumentParser
import DurationText

/// A duration option's value through DurationText, or a usage error naming the flag, the value and
/// the accepted forms (exit 64 with the usage, like every other malformed option).
func durationOption(
    _ flag: String,
    _ text: String,
    bare: DurationText.BareNumber = .refused,
    allowsZero: Bool = false
) throws -> Duration {
    do {
        return try DurationText.option(flag, text, bare: bare, allowsZero: allowsZero)
    } catch {
        throw ValidationError(error.description)
    }
}

/// The same within bounds (`in` says them in the message, e.g. "from 1s to 1h").
func durationOption(
    _ flag: String,
    _ text: String,
    within range: ClosedRange<Duration>,
    said: String
) throws
    -> Duration
{
    let duration = try durationOption(flag, text)
    guard range.contains(duration) else {
        throw ValidationError(DurationTextError(option: flag, value: text, range: said).description)
    }
    return duration
}

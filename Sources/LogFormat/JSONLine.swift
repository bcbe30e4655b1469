import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The pieces of a JSON line: string escaping, the RFC 3339 time, and the one `write` per line.
public enum JSONLine {
    /// Appends `text` as a JSON string literal: `"` and `\` escaped, every control character
    /// (U+0000…U+001F, U+007F) and the JavaScript line separators (U+2028, U+2029) as `\n`,
    /// `\r`, `\t` or `\uXXXX`, so the literal never spans lines.
    public static func appendString(_ text: String, to out: inout String) {
        out.unicodeScalars.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{00}"..."\u{1F}", "\u{7F}", "\u{2028}", "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out.unicodeScalars.append("\"")
    }

    /// `text` as a JSON string literal.
    public static func string(_ text: String) -> String {
        var out = ""
        self.appendString(text, to: &out)
        return out
    }

    /// The current time in RFC 3339, UTC, with milliseconds: `2026-12-05T10:00:00.123Z`.
    public static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return self.time(seconds: Int(spec.tv_sec), milliseconds: Int(spec.tv_nsec) / 1_000_000)
    }

    /// `seconds` since the epoch plus `milliseconds` in RFC 3339, UTC.
    public static func time(seconds: Int, milliseconds: Int) -> String {
        var value = time_t(seconds)
        var parts = tm()
        gmtime_r(&value, &parts)
        func pad(_ number: Int32, _ width: Int) -> String {
            let digits = String(number)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(milliseconds), 3))Z"
    }

    /// Serialises writers, so that two records written at once never interleave (a `write` to a
    /// pipe may be split when the line is longer than PIPE_BUF).
    private static let lock = Mutex(())

    /// Writes `line` (ending in a newline) to the file descriptor in full.
    public static func write(_ line: String, to descriptor: Int32) {
        var line = line
        line.withUTF8 { bytes in
            self.lock.withLock { _ in
                var offset = 0
                while offset < bytes.count {
                    #if canImport(Glibc)
                    let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    #else
                    let written = Darwin.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    #endif
                    if written < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }
}

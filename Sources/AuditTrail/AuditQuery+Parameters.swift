public import AuditLog
import TherapyJSON

/// A filter parameter that could not be read: which one, the value given, and what it must be.
/// The CLI answers it as `--NAME` (exit 2), the API as 400 `invalid_parameter`.
public struct AuditQueryError: Error, Hashable, CustomStringConvertible {
    public let parameter: String
    public let value: String
    public let expected: String

    public init(_ parameter: String, _ value: String, expected: String) {
        self.parameter = parameter
        // A hostile value is echoed back in part only.
        self.value = String(value.prefix(64))
        self.expected = expected
    }

    public var description: String { "\(self.parameter) '\(self.value)': must be \(self.expected)" }
}

extension AuditQuery {
    /// The filter parameters, by name, as the CLI and the API share them.
    public static let parameterNames = ["patient", "pump", "actor", "kind", "since", "until"]

    /// A query from text parameters (`parameters["kind"]`, ...); an empty value counts as absent.
    public init(parameters: [String: String]) throws(AuditQueryError) {
        func text(_ name: String) -> String? { parameters[name].flatMap { $0.isEmpty ? nil : $0 } }
        self.init(pump: text("pump"), actor: text("actor"), patient: text("patient"))
        if let kind = text("kind") { self.kind = try Self.kind(kind) }
        if let since = text("since") { self.since = try Self.time(since, parameter: "since") }
        if let until = text("until") { self.until = try Self.time(until, parameter: "until") }
        if let since = self.since, let until = self.until, until <= since {
            throw AuditQueryError("until", text("until") ?? "", expected: "a time after since")
        }
    }

    /// A kind filter: an entry kind this gateway writes, or a security event kind.
    public static func kind(_ text: String) throws(AuditQueryError) -> Kind {
        if let kind = AuditKinds.entryKinds.first(where: { $0.rawValue == text }) { return .entry(kind) }
        if AuditKinds.securityEventKinds.contains(text) { return .securityEvent(text) }
        throw AuditQueryError("kind", text, expected: "one of \(AuditKinds.allNames.joined(separator: ", "))")
    }

    /// A time: RFC 3339 (`2026-12-02T10:00:00Z`, `...+01:00`), a date (`2026-12-02`, midnight
    /// UTC) or milliseconds since the epoch.
    public static func time(_ text: String, parameter: String) throws(AuditQueryError) -> Int64 {
        if let time = AuditTime.parse(text) { return time }
        throw AuditQueryError(
            parameter,
            text,
            expected: "an RFC 3339 time (2026-12-02T10:00:00Z), a date (2026-12-02, midnight UTC) or epoch milliseconds"
        )
    }
}

/// Times as operators type them (see ``AuditQuery/time(_:parameter:)``).
public enum AuditTime {
    public static func parse(_ text: String) -> Int64? {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return Int64(text)
        }
        // `YYYY-MM-DD`: the same calendar checks as a full time, at midnight UTC.
        if text.utf8.count == 10, let day = ISO8601Time.parse(text + "T00:00:00Z") {
            return day.millisecondsSinceEpoch
        }
        return ISO8601Time.parse(text)?.millisecondsSinceEpoch
    }

    /// `2026-12-02T10:00:00.123Z`.
    public static func format(_ milliseconds: Int64) -> String { ISO8601Time.format(milliseconds: milliseconds) }
}

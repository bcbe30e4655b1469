public import AuditLog
import TherapyJSON

/// Which entries an export takes: a time window (`since` inclusive, `until` exclusive, both in
/// milliseconds since the epoch), one kind, one pump. Every condition given must hold.
public struct ExportFilter: Hashable, Sendable {
    public var sinceMilliseconds: Int64?
    public var untilMilliseconds: Int64?
    public var kind: AuditKind?
    public var pump: String?

    public init(
        sinceMilliseconds: Int64? = nil,
        untilMilliseconds: Int64? = nil,
        kind: AuditKind? = nil,
        pump: String? = nil
    ) {
        self.sinceMilliseconds = sinceMilliseconds
        self.untilMilliseconds = untilMilliseconds
        self.kind = kind
        self.pump = pump
    }

    /// Parses the filters as the CLI and the API take them (times as milliseconds since the epoch
    /// or ISO 8601); an empty string is an absent filter. Errors name the parameter at fault.
    public init(since: String?, until: String?, kind: String?, pump: String?) throws(ExportError) {
        self.sinceMilliseconds = try Self.time(since, parameter: "since")
        self.untilMilliseconds = try Self.time(until, parameter: "until")
        if let since = self.sinceMilliseconds, let until = self.untilMilliseconds, until <= since {
            throw ExportError(.invalidParameter, parameter: "until", "until must be after since (the window is empty)")
        }
        if let kind, !kind.isEmpty {
            do {
                self.kind = try AuditKind(kind)
            } catch {
                throw ExportError(
                    .invalidParameter,
                    parameter: "kind",
                    "kind '\(kind)': expected a kind such as change.requested (a-z 0-9 . _ -, at most 64)"
                )
            }
        }
        if let pump, !pump.isEmpty {
            guard pump.utf8.count <= AuditEvent.maximumFieldBytes else {
                throw ExportError(.invalidParameter, parameter: "pump", "pump: longer than a pump serial can be")
            }
            self.pump = pump
        }
    }

    public func matches(_ event: AuditEvent) -> Bool {
        if let since = self.sinceMilliseconds, event.timeMilliseconds < since { return false }
        if let until = self.untilMilliseconds, event.timeMilliseconds >= until { return false }
        if let kind = self.kind, event.kind != kind { return false }
        if let pump = self.pump, event.pumpSerial != pump { return false }
        return true
    }

    /// The filters as recorded in the `audit.export` entry (ISO 8601 times).
    public var recorded: [String: String] {
        var out: [String: String] = [:]
        if let since = self.sinceMilliseconds { out["since"] = ISO8601Time.format(milliseconds: since) }
        if let until = self.untilMilliseconds { out["until"] = ISO8601Time.format(milliseconds: until) }
        if let kind = self.kind { out["kind"] = kind.rawValue }
        if let pump = self.pump { out["pump"] = pump }
        return out
    }

    private static func time(_ text: String?, parameter: String) throws(ExportError) -> Int64? {
        guard let text, !text.isEmpty else { return nil }
        if let milliseconds = Int64(text) { return milliseconds }
        if let time = ISO8601Time.parse(text) { return time.millisecondsSinceEpoch }
        throw ExportError(
            .invalidParameter,
            parameter: parameter,
            "\(parameter) '\(text)': expected milliseconds since the epoch or an ISO 8601 time (2026-01-31T08:00:00Z)"
        )
    }
}

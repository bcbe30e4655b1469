public import AuditLog
public import Foundation

/// An entry as JSON, the same for `medtunnel audit show --format jsonl`, `audit prove` and
/// `GET /v1/audit`:
///
///     {"index": 12, "time": "2026-12-02T10:00:00.123Z", "timeMs": 1796205600123,
///      "kind": "change.requested", "actor": {"id": "alice", "role": "patient"},
///      "pump": "PUMP-0001", "phone": "PHONE-1", "summary": "change.requested by alice ...",
///      "payload": {...}}
///
/// A payload that is valid JSON is embedded; any other is given as `payloadBase64`.
public enum AuditEntryJSON {
    public static func object(_ entry: AuditEntry) -> [String: Any] {
        let event = entry.event
        var object: [String: Any] = [
            "index": entry.index,
            "time": AuditTime.format(event.timeMilliseconds),
            "timeMs": event.timeMilliseconds,
            "kind": event.kind.rawValue,
            "actor": ["id": event.actor.id, "role": event.actor.role],
            "summary": AuditSummary.line(entry),
        ]
        if let pump = event.pumpSerial { object["pump"] = pump }
        if let phone = event.phoneID { object["phone"] = phone }
        if let payload = try? JSONSerialization.jsonObject(with: Data(event.payload), options: [.fragmentsAllowed]) {
            object["payload"] = payload
        } else {
            object["payloadBase64"] = Data(event.payload).base64EncodedString()
        }
        return object
    }

    /// `object` as sorted, unescaped-slash JSON bytes.
    public static func encode(_ object: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}

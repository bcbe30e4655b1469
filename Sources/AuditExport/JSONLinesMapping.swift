import Foundation
import TherapyJSON

/// One entry as one line of JSON (`audit show --format jsonl` plus the leaf hash):
///
///     {"actor":"alice","index":7,"kind":"change.requested","leafHash":"9f…","payload":{…},
///      "phone":"PHONE-1","pump":"PUMP-0001","role":"patient","time":"2026-01-31T08:00:00.000Z",
///      "timeMs":1769846400000}
///
/// Keys are sorted; `pump` and `phone` are null when absent. A payload that is JSON is embedded as
/// a value (re-serialized, so a pretty-printed payload cannot break the one-line framing); any
/// other payload is given as `payloadBase64`. The canonical bytes and the leaf hash stay the proof.
public enum JSONLinesMapping {
    public static func line(_ exported: ExportedEntry) -> [UInt8] {
        let event = exported.entry.event
        var object: [String: Any] = [
            "index": exported.entry.index,
            "time": ISO8601Time.format(milliseconds: event.timeMilliseconds),
            "timeMs": event.timeMilliseconds,
            "actor": event.actor.id,
            "role": event.actor.role,
            "kind": event.kind.rawValue,
            "pump": event.pumpSerial ?? NSNull(),
            "phone": event.phoneID ?? NSNull(),
            "leafHash": exported.leafHashHex,
        ]
        if let payload = exported.payloadJSON() {
            object["payload"] = payload
        } else if event.payload.isEmpty {
            object["payload"] = NSNull()
        } else {
            object["payloadBase64"] = Data(event.payload).base64EncodedString()
        }
        return Self.serialize(object) + [0x0a]
    }

    /// JSON text of a dictionary from `JSONSerialization` inputs; every value here is one it takes.
    static func serialize(_ object: [String: Any]) -> [UInt8] {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Array(data)
    }
}

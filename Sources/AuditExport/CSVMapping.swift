import Foundation
import TherapyJSON

/// One entry as one RFC 4180 record: fields separated by commas, records ended by CRLF, a field
/// quoted when it holds a comma, a quote, CR or LF, quotes inside doubled. Columns:
///
///     index,time,actor,role,kind,pump,phone,summary,payload
///
/// `summary` is the kind's label and outcome (never payload contents); `payload` is the payload
/// text as stored (UTF-8) or `base64:` and its base64 when it is not text.
public enum CSVMapping {
    public static let columns = ["index", "time", "actor", "role", "kind", "pump", "phone", "summary", "payload"]

    public static var header: [UInt8] { Self.record(Self.columns) }

    public static func row(_ exported: ExportedEntry) -> [UInt8] {
        let event = exported.entry.event
        let coding = AuditKindCoding.of(event.kind)
        let outcome = AuditKindCoding.outcome(of: exported)
        let summary = outcome == .success ? coding.label : "\(coding.label) (\(outcome.display.lowercased()))"
        let payload: String
        if let text = String(validating: event.payload, as: UTF8.self) {
            payload = text
        } else {
            payload = "base64:" + Data(event.payload).base64EncodedString()
        }
        return Self.record([
            String(exported.entry.index), ISO8601Time.format(milliseconds: event.timeMilliseconds), event.actor.id,
            event.actor.role, event.kind.rawValue, event.pumpSerial ?? "", event.phoneID ?? "", summary, payload,
        ])
    }

    /// One record: the fields, quoted where RFC 4180 needs it, then CRLF.
    static func record(_ fields: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for (position, field) in fields.enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: Self.field(field))
        }
        out.append(contentsOf: [0x0d, 0x0a])
        return out
    }

    static func field(_ value: String) -> [UInt8] {
        let bytes = Array(value.utf8)
        let needsQuotes = bytes.contains {
            $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0d || $0 == 0x0a
        }
        guard needsQuotes else { return bytes }
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in bytes {
            out.append(byte)
            if byte == UInt8(ascii: "\"") { out.append(byte) }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }
}

import Foundation
import TherapyJSON

/// The framing of one export: what comes before the first entry, between entries and after the
/// last. Pure: it returns bytes and keeps only a count, so an export of any size needs the memory
/// of one entry.
///
/// FHIR: a Bundle of type `collection`, opened before the first entry and closed after the last;
/// `entry` is written only when there is one (FHIR JSON forbids an empty array). Each Bundle
/// entry's `fullUrl` is a `urn:uuid:` made from the leaf hash, so one entry always has one URL.
public struct ExportWriter: Sendable {
    public let format: ExportFormat
    let fhir: FHIRAuditEventMapping
    let startedMilliseconds: Int64
    public private(set) var written: UInt64 = 0

    /// `origin` names the gateway in FHIR; `now` stamps the Bundle.
    public init(format: ExportFormat, origin: String, now: Int64) {
        self.format = format
        self.fhir = FHIRAuditEventMapping(origin: origin)
        self.startedMilliseconds = now
    }

    public func header() -> [UInt8] {
        switch self.format {
        case .jsonl: []
        case .csv: CSVMapping.header
        case .fhir:
            Array(
                "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"timestamp\":\"\(ISO8601Time.format(milliseconds: self.startedMilliseconds))\""
                    .utf8
            )
        }
    }

    public mutating func entry(_ exported: ExportedEntry) -> [UInt8] {
        defer { self.written += 1 }
        switch self.format {
        case .jsonl: return JSONLinesMapping.line(exported)
        case .csv: return CSVMapping.row(exported)
        case .fhir:
            var out = Array((self.written == 0 ? ",\"entry\":[\n" : ",\n").utf8)
            out.append(contentsOf: "{\"fullUrl\":\"urn:uuid:\(Self.uuid(exported.leafHash))\",\"resource\":".utf8)
            out.append(contentsOf: self.fhir.resource(exported))
            out.append(UInt8(ascii: "}"))
            return out
        }
    }

    public func footer() -> [UInt8] {
        switch self.format {
        case .jsonl, .csv: []
        case .fhir: Array((self.written == 0 ? "}\n" : "\n]}\n").utf8)
        }
    }

    /// An RFC 9562 version 8 (custom) UUID from the first 16 bytes of a hash.
    static func uuid(_ hash: [UInt8]) -> String {
        var bytes = Array(hash.prefix(16))
        bytes[6] = (bytes[6] & 0x0f) | 0x80
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        let hex = ExportedEntry.hex(bytes)
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex.utf8.dropFirst(range.lowerBound).prefix(range.count))!
        }
        return parts.joined(separator: "-")
    }
}

public import AuditLog
import Foundation

/// An entry as the exporter read it: decoded, and checked against its stored leaf hash, so that
/// the hash printed beside it is one a reader can prove against a signed checkpoint.
public struct ExportedEntry: Sendable {
    public let entry: AuditEntry
    /// The canonical bytes the leaf hash is over (`AuditEntry.encoded()`).
    public let canonical: [UInt8]
    /// RFC 9162 leaf hash: SHA-256(0x00 || canonical).
    public let leafHash: [UInt8]

    /// Decodes a stored row, refusing one whose bytes or index do not match.
    public init(row: StoredEntry) throws(ExportError) {
        let entry: AuditEntry
        do {
            entry = try AuditEntry(decoding: row.body, context: "entry \(row.index)")
        } catch {
            throw ExportError(.corruptEntry, "entry \(row.index) does not decode; run `medtunnel audit verify`")
        }
        guard entry.index == row.index, RFC9162.leafHash(row.body) == row.leafHash else {
            throw ExportError(
                .corruptEntry,
                "entry \(row.index): stored bytes do not match the stored leaf hash; run `medtunnel audit verify`"
            )
        }
        self.init(entry: entry, canonical: row.body, leafHash: row.leafHash)
    }

    /// An entry built in memory (tests, and the mappings' callers that already hold one).
    public init(entry: AuditEntry) {
        let canonical = entry.encoded()
        self.init(entry: entry, canonical: canonical, leafHash: RFC9162.leafHash(canonical))
    }

    private init(entry: AuditEntry, canonical: [UInt8], leafHash: [UInt8]) {
        self.entry = entry
        self.canonical = canonical
        self.leafHash = leafHash
    }

    public var leafHashHex: String { Self.hex(self.leafHash) }

    /// The payload as a JSON value, or nil when it is not JSON (kept opaque then: base64).
    func payloadJSON() -> Any? {
        guard !self.entry.event.payload.isEmpty else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(self.entry.event.payload), options: [.fragmentsAllowed])
    }

    /// The patient an entry concerns, as its payload names it: `patientId` or `patient` at the
    /// top level or one object down (a lockout's scope, a prescription). Only a string counts.
    func patientID(in payload: Any?) -> String? {
        guard let object = payload as? [String: Any] else { return nil }
        for key in ["patientId", "patient"] {
            if let value = object[key] as? String, !value.isEmpty { return value }
        }
        for key in object.keys.sorted() {
            guard let inner = object[key] as? [String: Any] else { continue }
            for name in ["patientId", "patient"] {
                if let value = inner[name] as? String, !value.isEmpty { return value }
            }
        }
        return nil
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public import AuditLog

/// A readable one-line summary of an entry, from its kind and a few short payload fields:
///
///     change.requested by alice (patient) on PUMP-0001: id=chg_1 state=accepted
///
/// Only short scalar fields from a fixed list are shown, each cut at 40 characters, and the line
/// at 200: a summary is for scanning a page, the payload is beside it for the details.
public enum AuditSummary {
    /// Payload fields worth a glance, in the order shown.
    static let fields = [
        "event", "op", "id", "state", "decision", "outcome", "reason", "scope", "patientId", "targetPatientId",
        "role", "sequence", "count", "rule", "route", "user", "credential",
    ]
    static let maximumFields = 4
    static let maximumFieldLength = 40
    static let maximumLength = 200

    public static func line(_ entry: AuditEntry) -> String {
        let event = entry.event
        var line = "\(event.kind.rawValue) by \(event.actor.id) (\(event.actor.role))"
        if let pump = event.pumpSerial { line += " on \(pump)" }
        if let phone = event.phoneID { line += " via \(phone)" }
        let details = self.details(event.payload)
        if !details.isEmpty { line += ": " + details.joined(separator: " ") }
        return line.count > self.maximumLength ? String(line.prefix(self.maximumLength - 3)) + "..." : line
    }

    /// The patient the entry's payload names in a top-level `patientId` (or, for a transfer,
    /// `targetPatientId`) string field, if any: for exports that carry the patient beside the
    /// summary (the syslog stream) without the payload itself.
    public static func patient(_ entry: AuditEntry) -> String? {
        guard let object = AuditPayload.object(entry.event.payload) else { return nil }
        return (object["patientId"] as? String) ?? (object["targetPatientId"] as? String)
    }

    private static func details(_ payload: [UInt8]) -> [String] {
        guard let object = AuditPayload.object(payload) else { return [] }
        var shown: [String] = []
        for name in self.fields where shown.count < self.maximumFields {
            guard let value = object[name], let text = self.scalar(value), !text.isEmpty else { continue }
            let cut = text.count > self.maximumFieldLength ? String(text.prefix(self.maximumFieldLength)) + "..." : text
            shown.append("\(name)=\(cut)")
        }
        // `access.read` and similar: how many reads, of which routes.
        if let reads = object["reads"] as? [Any], shown.count < self.maximumFields {
            shown.append("reads=\(reads.count)")
        }
        return shown
    }

    private static func scalar(_ value: Any) -> String? {
        switch value {
        case let text as String: text
        case let number as Int64: String(number)
        case let number as Int: String(number)
        case let flag as Bool: String(flag)
        default: nil
        }
    }
}

public import AuditLog
import Foundation

/// Which audit entries an operator asked for: the one filter behind `medtunnel audit show` and
/// `GET /v1/audit`, so the two cannot drift. Every field given must match (AND).
///
/// - `pump`: the entry's pump serial.
/// - `actor`: the actor's id (whatever role they acted in).
/// - `kind`: an entry kind (`change.requested`), or a security event kind (`tunnel_failed`),
///   which matches the `security.event` entries whose payload's `event` is that kind.
/// - `since` (inclusive) and `until` (exclusive), in milliseconds since the epoch, so that
///   `since=2026-12-01&until=2026-12-02` is exactly one day.
/// - `patient`: entries whose payload names the patient (a `patientId` or `targetPatientId`
///   field, or a `patient=ID` account attribute, at any depth up to 4), or whose pump is bound to
///   the patient by pairing. The binding is the one the caller passes (`pumpPatient`): the
///   current binding, so a transferred pump's earlier entries are found under its new patient
///   too, and under the old one only where their payload names them.
public struct AuditQuery: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case entry(AuditKind)
        case securityEvent(String)
    }

    public var pump: String?
    public var actor: String?
    public var kind: Kind?
    public var since: Int64?
    public var until: Int64?
    public var patient: String?

    public init(
        pump: String? = nil,
        actor: String? = nil,
        kind: Kind? = nil,
        since: Int64? = nil,
        until: Int64? = nil,
        patient: String? = nil
    ) {
        self.pump = pump
        self.actor = actor
        self.kind = kind
        self.since = since
        self.until = until
        self.patient = patient
    }

    /// Whether `matches` needs the patient of the entry's pump.
    public var needsPumpPatient: Bool { self.patient != nil }

    /// Whether `entry` is asked for. `pumpPatient` is the patient the entry's pump is bound to
    /// (nil: no pump, or not paired); it is read only when filtering by patient.
    public func matches(_ entry: AuditEntry, pumpPatient: String?) -> Bool {
        let event = entry.event
        if let pump, event.pumpSerial != pump { return false }
        if let actor, event.actor.id != actor { return false }
        if let since, event.timeMilliseconds < since { return false }
        if let until, event.timeMilliseconds >= until { return false }
        switch self.kind {
        case nil: break
        case .entry(let kind): if event.kind != kind { return false }
        case .securityEvent(let name):
            guard event.kind == .securityEvent,
                AuditPayload.object(event.payload)?["event"] as? String == name
            else { return false }
        }
        if let patient {
            guard pumpPatient == patient || AuditPayload.names(patient: patient, in: event.payload) else {
                return false
            }
        }
        return true
    }
}

/// Reading fields out of JSON payloads (payloads are opaque bytes to the log; most are JSON).
enum AuditPayload {
    static func value(_ payload: [UInt8]) -> Any? {
        guard payload.first == UInt8(ascii: "{") || payload.first == UInt8(ascii: "[") else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(payload))
    }

    static func object(_ payload: [UInt8]) -> [String: Any]? { self.value(payload) as? [String: Any] }

    /// Whether the payload names `patient` in a patient id field or a `patient=` attribute.
    static func names(patient: String, in payload: [UInt8]) -> Bool {
        // Cheap test first: most payloads do not contain the id at all.
        guard payload.count >= patient.utf8.count,
            String(decoding: payload, as: UTF8.self).contains(patient),
            let value = self.value(payload)
        else { return false }
        return self.names(patient: patient, value, depth: 0)
    }

    private static func names(patient: String, _ value: Any, depth: Int) -> Bool {
        guard depth <= 4 else { return false }
        if let object = value as? [String: Any] {
            for (key, field) in object {
                if key.lowercased().hasSuffix("patientid"), field as? String == patient { return true }
                if self.names(patient: patient, field, depth: depth + 1) { return true }
            }
        } else if let array = value as? [Any] {
            for element in array {
                if element as? String == "patient=\(patient)" { return true }
                if self.names(patient: patient, element, depth: depth + 1) { return true }
            }
        }
        return false
    }
}

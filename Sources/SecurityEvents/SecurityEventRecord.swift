public import AnomalyRules
public import AuditLog
import Foundation

/// The payload of a `security.event` audit entry the gateway writes for what it observed (the
/// command pipeline writes its own with the same schema and fewer fields):
///
/// ```
/// {"schema":"medtunnel.security-event.v1","event":"tunnel_failed","reason":"recordRejected",
///  "detail":"…","phone":"PHONE-2","source":"127.0.0.1","count":1,"minute":29471234}
/// ```
/// `count` is how many events the entry stands for: 1 for an event written as it happened, or
/// the events of the same subject, kind and reason folded into one entry at the end of `minute`
/// (minutes since 1970) after the first of them was written.
public struct SecurityEventRecord: Codable, Sendable, Hashable {
    public static let schemaName = "medtunnel.security-event.v1"

    public var schema = Self.schemaName
    public var event: String
    public var reason: String
    public var detail: String
    public var phone: String?
    public var source: String?
    public var count: Int?
    public var minute: Int64?

    public init(_ event: ObservedEvent, count: Int = 1, minute: Int64? = nil) {
        self.event = event.kind
        self.reason = event.reason ?? ""
        self.detail = event.detail
        self.phone = event.phone
        self.source = event.source
        self.count = count
        self.minute = minute
    }

    /// The entry's payload, if it is a security event.
    public init?(_ entry: AuditEntry) {
        guard entry.event.kind == .securityEvent,
            let record = try? JSONDecoder().decode(Self.self, from: Data(entry.event.payload)),
            record.schema == Self.schemaName
        else { return nil }
        self = record
    }

    func auditEvent(time: Int64, pump: String?) throws -> AuditEvent {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try AuditEvent(
            timeMilliseconds: time,
            actor: try AuditActor(id: "gateway", role: "system"),
            kind: .securityEvent,
            pumpSerial: pump,
            phoneID: phone,
            payload: Array(try encoder.encode(self))
        )
    }
}

/// A security event as `GET /v1/events` answers it: what the audit log holds, with its index.
public struct StoredSecurityEvent: Sendable, Hashable {
    public let auditIndex: UInt64
    public let timeMilliseconds: Int64
    public let kind: String
    public let reason: String?
    public let pump: String?
    public let phone: String?
    public let source: String?
    public let detail: String
    public let count: Int
}

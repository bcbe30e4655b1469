public import AnomalyRules
public import AuditLog
import Foundation

/// An alert a rule raised: which rule, about which pump or phone, with the evidence that made it
/// fire, until someone acknowledges it.
public struct Alert: Sendable, Hashable {
    public let id: String
    public let rule: String
    public let action: RuleAction
    public let subject: RuleSubject
    public let subjectValue: String
    public let count: Int
    public let summary: String
    /// The events that made the rule fire (at most 20), as the audit entry keeps them.
    public let evidence: [AlertRecord.Evidence]
    public let raisedAtMilliseconds: Int64
    public let auditIndex: UInt64
    /// The lockout a `lockout` rule started (nil for an alert, or when starting it failed).
    public let lockoutID: String?
    public internal(set) var acknowledgedBy: String?
    public internal(set) var acknowledgedAtMilliseconds: Int64?
}

/// The payload of `alert.raised` and `alert.acknowledged` entries, enough to rebuild the alerts
/// from the log.
public struct AlertRecord: Codable, Sendable, Hashable {
    public static let schemaName = "medtunnel.alert.v1"

    public struct Evidence: Codable, Sendable, Hashable {
        public var time: Int64
        public var kind: String
        public var reason: String?
        public var pump: String?
        public var phone: String?
        public var detail: String
    }

    public var schema = Self.schemaName
    public var op: String
    public var alertId: String
    public var at: Int64
    public var rule: String?
    public var action: String?
    public var subject: String?
    public var subjectValue: String?
    public var count: Int?
    public var summary: String?
    public var evidence: [Evidence]?
    public var lockoutId: String?

    init(raising firing: RuleFiring, id: String, lockoutID: String?) {
        self.op = "raised"
        self.alertId = id
        self.at = firing.timeMilliseconds
        self.rule = firing.rule
        self.action = firing.action.rawValue
        self.subject = firing.subject.rawValue
        self.subjectValue = firing.subjectValue
        self.count = firing.count
        self.summary = firing.description
        self.evidence = firing.evidence.map {
            Evidence(
                time: $0.timeMilliseconds,
                kind: $0.kind,
                reason: $0.reason,
                pump: $0.pump,
                phone: $0.phone,
                detail: $0.detail
            )
        }
        self.lockoutId = lockoutID
    }

    init(acknowledging id: String, at: Int64) {
        self.op = "acknowledged"
        self.alertId = id
        self.at = at
    }

    public init?(_ entry: AuditEntry) {
        guard entry.event.kind == .alertRaised || entry.event.kind == .alertAcknowledged,
            let record = try? JSONDecoder().decode(Self.self, from: Data(entry.event.payload)),
            record.schema == Self.schemaName
        else { return nil }
        self = record
    }

    func auditEvent(actor: AuditActor) throws -> AuditEvent {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let pump = subject == RuleSubject.pump.rawValue ? subjectValue : nil
        let phone = subject == RuleSubject.phone.rawValue ? subjectValue : nil
        return try AuditEvent(
            timeMilliseconds: at,
            actor: actor,
            kind: op == "raised" ? .alertRaised : .alertAcknowledged,
            pumpSerial: pump,
            phoneID: phone,
            payload: Array(try encoder.encode(self))
        )
    }
}

extension AuditKind {
    /// A rule over security events fired (`GET /v1/alerts`).
    public static let alertRaised = try! AuditKind("alert.raised")
    /// Someone acknowledged an alert.
    public static let alertAcknowledged = try! AuditKind("alert.acknowledged")
}

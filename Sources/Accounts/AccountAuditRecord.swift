import AuditLog
import Foundation

/// The payload of an `account.created` or `account.disabled` audit entry: everything needed to
/// rebuild the account from the log alone.
///
/// `{"schema":"medtunnel.account.v1","op":"create","id":"alice","role":"patient",
///   "attributes":["patient=patient-001","phone=PHONE-1"],"at":1763700000000}`
struct AccountAuditRecord: Codable, Equatable {
    static let schemaName = "medtunnel.account.v1"

    enum Operation: String, Codable {
        case create
        case disable
        case enable
    }

    var schema = Self.schemaName
    let op: Operation
    let id: String
    var role: String?
    var attributes: [String]?
    /// Milliseconds since the epoch.
    let at: Int64

    var kind: AuditKind {
        switch op {
        case .create: .accountCreated
        case .disable: .accountDisabled
        case .enable: .accountEnabled
        }
    }

    func event(by actor: AuditActor) throws -> AuditEvent {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try AuditEvent(timeMilliseconds: at, actor: actor, kind: kind, payload: Array(try encoder.encode(self)))
    }

    /// The record in `entry`, if it is one of ours.
    init?(_ entry: AuditEntry) {
        guard [.accountCreated, .accountDisabled, .accountEnabled].contains(entry.event.kind),
            let record = try? JSONDecoder().decode(Self.self, from: Data(entry.event.payload)),
            record.schema == Self.schemaName, record.kind == entry.event.kind
        else { return nil }
        self = record
    }

    init(op: Operation, id: String, role: String? = nil, attributes: [String]? = nil, at: Int64) {
        self.op = op
        self.id = id
        self.role = role
        self.attributes = attributes
        self.at = at
    }
}

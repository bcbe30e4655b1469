public import AuditLog
import Foundation

/// The payload of every audit entry about lockouts, enough to rebuild the lockout store from the
/// log alone (which `LockoutStore.recover()` does after a crash between the append and the store).
///
/// | kind                    | op             | actor                    | fields                                    |
/// |-------------------------|----------------|--------------------------|-------------------------------------------|
/// | `lockout.started`       | `start`        | the incident user        | lockoutId, scope, reason, suspendDelivery |
/// | `lockout.lift_requested`| `lift_request` | the first incident user  | lockoutId                                 |
/// | `lockout.lifted`        | `lift`         | the second incident user | lockoutId, requestedBy (the first)        |
/// | `lockout.sent`          | `sent`         | the gateway              | serial, sequence, command, lockoutIds     |
/// | `lockout.acknowledged`  | `acknowledged` | the pump                 | serial, sequence, command, lockoutIds, result, evidence |
///
/// `command` is `start` or `lift`; `result` is `applied` or the pump's refusal code; `evidence`
/// the pump's signed acknowledgement in base64.
public struct LockoutAuditRecord: Codable, Sendable, Hashable {
    public static let schemaName = "medtunnel.lockout.v1"

    public enum Operation: String, Codable, Sendable {
        case start
        case liftRequest = "lift_request"
        case lift
        case sent
        case acknowledged

        var kind: AuditKind {
            switch self {
            case .start: .lockoutStarted
            case .liftRequest: .lockoutLiftRequested
            case .lift: .lockoutLifted
            case .sent: .lockoutSent
            case .acknowledged: .lockoutAcknowledged
            }
        }
    }

    public var schema = Self.schemaName
    public var op: Operation
    public var at: Int64
    public var lockoutId: String?
    public var scope: String?
    public var reason: String?
    public var suspendDelivery: Bool?
    public var requestedBy: String?
    public var serial: String?
    public var sequence: UInt64?
    public var command: String?
    public var lockoutIds: [String]?
    public var result: String?
    public var evidence: String?

    public init(op: Operation, at: Int64) {
        self.op = op
        self.at = at
    }

    static let kinds: Set<AuditKind> = [
        .lockoutStarted, .lockoutLiftRequested, .lockoutLifted, .lockoutSent, .lockoutAcknowledged,
    ]

    /// The entry's payload, if it is one of ours.
    public init?(_ entry: AuditEntry) {
        guard Self.kinds.contains(entry.event.kind),
            let record = try? JSONDecoder().decode(Self.self, from: Data(entry.event.payload)),
            record.schema == Self.schemaName
        else { return nil }
        self = record
    }

    func auditEvent(actor: AuditActor) throws -> AuditEvent {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try AuditEvent(
            timeMilliseconds: at,
            actor: actor,
            kind: op.kind,
            pumpSerial: serial,
            phoneID: nil,
            payload: Array(try encoder.encode(self))
        )
    }
}

extension AuditKind {
    /// The first incident user asked to lift a lockout; a second must confirm.
    public static let lockoutLiftRequested = try! AuditKind("lockout.lift_requested")
    /// A signed lockout command (start or lift) was sent to a pump.
    public static let lockoutSent = try! AuditKind("lockout.sent")
    /// A pump's signed answer to a lockout command.
    public static let lockoutAcknowledged = try! AuditKind("lockout.acknowledged")
}

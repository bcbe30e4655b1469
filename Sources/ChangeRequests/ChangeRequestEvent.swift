import AuditLog
import Foundation
import TherapyJSON
import TherapyModel

/// The payload of every audit entry the change-request store writes: enough to redo the step
/// from the log alone, which is what `recover()` does after a crash between the audit append and
/// the store's commit.
///
/// ```
/// {"schema":"medtunnel.change-request.v1","requestId":"chg_…","pumpSerial":"PUMP-0001",
///  "from":"queued","states":["sent"],"at":1763700000000,"sequence":7,"expiresAt":1763700300000}
/// ```
/// `states` lists the states entered, in order (`["accepted","queued"]` at creation). The
/// creation entry also carries `creation`: requester, role, idempotency key, the change (its
/// canonical JSON as an object) and the decision with its reasons.
///
/// | kind                   | step                                          |
/// |------------------------|-----------------------------------------------|
/// | `change.requested`     | created: accepted+queued, pending_approval, rejected |
/// | `change.approved`      | pending_approval → approved → queued          |
/// | `change.rejected`      | pending_approval → rejected (by a clinician)  |
/// | `change.cancelled`     | → cancelled                                   |
/// | `command.sent`         | queued → sent (carries the sequence)          |
/// | `command.acknowledged` | sent/uncertain → applied or refused_by_pump   |
/// | `command.uncertain`    | sent → uncertain (session dropped)            |
/// | `command.reconciled`   | uncertain → applied, refused_by_pump or not_applied |
/// | `command.expired`      | queued → expired                              |
struct ChangeRequestEvent: Codable, Hashable {
    static let schemaName = "medtunnel.change-request.v1"

    struct Creation: Codable, Hashable {
        var requester: String
        var requesterRole: String
        var idempotencyKey: String
        var change: JSONValue
        var decision: DecisionBody
    }

    struct DecisionBody: Codable, Hashable {
        struct Reason: Codable, Hashable {
            var code: String
            var message: String
        }
        var decision: String
        var reasons: [Reason]
    }

    var schema = Self.schemaName
    var requestId: String
    var pumpSerial: String
    var from: String?
    var states: [String]
    var refusalCode: String?
    var at: Int64
    var creation: Creation?
    var sequence: UInt64?
    var expiresAt: Int64?
    var approver: String?
    /// Base64 of what the pump sent (a signed acknowledgement), when there is one.
    var evidence: String?
    /// Why the gateway took the step, for the people reading the request's history (a lockout
    /// that cancelled it, the phone through which a command was cut).
    var note: String?

    static let kinds: Set<AuditKind> = [
        .changeRequested, .changeApproved, .changeRejected, .changeCancelled, .commandSent, .commandAcknowledged,
        .commandUncertain, .commandReconciled, .commandExpired,
    ]

    init(
        request id: ChangeRequestID,
        pumpSerial: String,
        from: ChangeRequestState?,
        states: [ChangeRequestState],
        at: Timestamp
    ) {
        self.requestId = id.rawValue
        self.pumpSerial = pumpSerial
        self.from = from?.name
        self.states = states.map(\.name)
        self.refusalCode = states.last?.refusalCode
        self.at = at.millisecondsSinceEpoch
    }

    /// The entry's payload decoded, if it is one of ours.
    init?(_ entry: AuditEntry) {
        guard Self.kinds.contains(entry.event.kind),
            let event = try? JSONDecoder().decode(Self.self, from: Data(entry.event.payload)),
            event.schema == Self.schemaName
        else { return nil }
        self = event
    }

    func auditEvent(kind: AuditKind, actor: ChangeActor, phoneID: String? = nil) throws -> AuditEvent {
        try AuditEvent(
            timeMilliseconds: at,
            actor: try AuditActor(id: actor.id, role: actor.role),
            kind: kind,
            pumpSerial: pumpSerial,
            phoneID: phoneID,
            payload: Array(try JSONValue.encoder.encode(self))
        )
    }

    // MARK: Reading back

    var requestID: ChangeRequestID? { ChangeRequestID(requestId) }

    var fromState: ChangeRequestState? { from.flatMap { ChangeRequestState(name: $0, refusal: refusalCode) } }

    /// nil if any state name is unknown.
    var enteredStates: [ChangeRequestState]? {
        let parsed = states.compactMap { ChangeRequestState(name: $0, refusal: refusalCode) }
        return parsed.count == states.count && !parsed.isEmpty ? parsed : nil
    }

    var time: Timestamp { Timestamp(millisecondsSinceEpoch: at) }

    var expiry: Timestamp? { expiresAt.map { Timestamp(millisecondsSinceEpoch: $0) } }
}

extension ChangeRequestEvent.DecisionBody {
    init(_ decision: ChangeDecision) {
        self.decision = decision.outcome.rawValue
        self.reasons = decision.reasons.map { Reason(code: $0.code, message: $0.message) }
    }

    var value: ChangeDecision? {
        guard let outcome = ChangeDecision.Outcome(rawValue: decision) else { return nil }
        return ChangeDecision(outcome: outcome, reasons: reasons.map { .init(code: $0.code, message: $0.message) })
    }
}

/// The payload of a `pump.therapy.set` entry: the full prescription, pump model and (when
/// given) the pump's current settings, so the version can be rebuilt from the log.
struct PumpTherapyEvent: Codable, Hashable {
    static let schemaName = "medtunnel.pump-therapy.v1"

    var schema = Self.schemaName
    var pumpSerial: String
    var version: Int64
    var prescription: JSONValue
    var model: JSONValue
    var settings: JSONValue?
    var at: Int64

    init(
        pumpSerial: String,
        version: Int64,
        prescription: Prescription,
        model: PumpModel,
        settings: TherapySettings?,
        at: Timestamp
    ) throws {
        self.pumpSerial = pumpSerial
        self.version = version
        self.prescription = try JSONValue(parsing: TherapyJSON.encode(prescription))
        self.model = try JSONValue(parsing: TherapyJSON.encode(model))
        self.settings = try settings.map { try JSONValue(parsing: TherapyJSON.encode($0)) }
        self.at = at.millisecondsSinceEpoch
    }

    init?(_ entry: AuditEntry) {
        guard entry.event.kind == .pumpTherapySet,
            let event = try? JSONDecoder().decode(Self.self, from: Data(entry.event.payload)),
            event.schema == Self.schemaName
        else { return nil }
        self = event
    }

    func auditEvent(actor: ChangeActor) throws -> AuditEvent {
        try AuditEvent(
            timeMilliseconds: at,
            actor: try AuditActor(id: actor.id, role: actor.role),
            kind: .pumpTherapySet,
            pumpSerial: pumpSerial,
            payload: Array(try JSONValue.encoder.encode(self))
        )
    }
}

import AuditLog
import Foundation

/// The payload of every binding entry (`pump.paired`, `pump.unpair_requested`,
/// `pump.transfer_requested`, `pump.unpaired`, `pump.transferred`): enough to redo the step from
/// the log alone, as `recover()` does after a crash between the audit append and the commit.
///
/// ```
/// {"schema":"medtunnel.pump-binding.v1","pumpSerial":"PUMP-0001","patientId":"patient-001",
///  "phoneId":"PHONE-1","nonceHash":"9f…","at":1790000000000}
/// ```
/// `patientId` is the patient the pump is bound to before the step (after it, for `pump.paired`);
/// `targetPatientId` the patient of a transfer. `nonceHash` (hex SHA-256 of serial ‖ nonce) is
/// in `pump.paired` only: the code itself is never logged.
struct PumpBindingEvent: Codable, Hashable {
    static let schemaName = "medtunnel.pump-binding.v1"
    static let kinds: Set<AuditKind> = [
        .pumpPaired, .pumpUnpairRequested, .pumpTransferRequested, .pumpUnpaired, .pumpTransferred,
    ]

    var schema = Self.schemaName
    var kind: String
    var pumpSerial: String
    var patientId: String
    var phoneId: String?
    var nonceHash: String?
    var targetPatientId: String?
    var at: Int64

    init(
        kind: AuditKind,
        pumpSerial: String,
        patientId: String,
        phoneId: String? = nil,
        nonceHash: String? = nil,
        targetPatientId: String? = nil,
        at: Int64
    ) {
        self.kind = kind.rawValue
        self.pumpSerial = pumpSerial
        self.patientId = patientId
        self.phoneId = phoneId
        self.nonceHash = nonceHash
        self.targetPatientId = targetPatientId
        self.at = at
    }

    init?(_ entry: AuditEntry) {
        guard Self.kinds.contains(entry.event.kind),
            let event = try? JSONDecoder().decode(Self.self, from: Data(entry.event.payload)),
            event.schema == Self.schemaName, event.kind == entry.event.kind.rawValue
        else { return nil }
        self = event
    }

    func auditEvent(actor: ChangeActor) throws -> AuditEvent {
        try AuditEvent(
            timeMilliseconds: at,
            actor: try AuditActor(id: actor.id, role: actor.role),
            kind: try AuditKind(kind),
            pumpSerial: pumpSerial,
            phoneID: phoneId,
            payload: Array(try JSONValue.encoder.encode(self))
        )
    }
}

import AuditLog
import SQLiteStore

/// How a binding entry (`PumpBindingEvent`) is written to the store: by the step that appended
/// it, or by `recover()` from the log after a crash. Every entry applied is kept in
/// `binding_step`, so recovery applies each exactly once.
extension ChangeRequestStore {
    func applyBinding(_ event: PumpBindingEvent, actor: ChangeActor, auditIndex: UInt64) throws {
        let serial = event.pumpSerial
        let index = Int64(auditIndex)
        do {
            let step = try connection.prepare(
                "INSERT INTO binding_step(audit_index, pump_serial, kind) VALUES (?, ?, ?)"
            )
            try step.bind(index, at: 1)
            try step.bind(serial, at: 2)
            try step.bind(event.kind, at: 3)
            try step.run()
            switch event.kind {
            case AuditKind.pumpPaired.rawValue:
                guard try binding(for: serial) == nil, let nonceHash = event.nonceHash else {
                    throw ChangeRequestError(
                        .illegalTransition,
                        "audit entry \(auditIndex): pump \(serial) is paired already"
                    )
                }
                let nonce = try connection.prepare(
                    "INSERT INTO pairing_nonce(nonce_hash, pump_serial, audit_index) VALUES (?, ?, ?)"
                )
                try nonce.bind(nonceHash, at: 1)
                try nonce.bind(serial, at: 2)
                try nonce.bind(index, at: 3)
                try nonce.run()
                try insertBinding(event, patient: event.patientId, phone: event.phoneId, actor: actor, index: index)
            case AuditKind.pumpUnpairRequested.rawValue, AuditKind.pumpTransferRequested.rawValue:
                let upsert = try connection.prepare(
                    """
                    INSERT OR REPLACE INTO binding_request(pump_serial, action, target_patient, requested_by,
                        requested_role, requested_ms, audit_index) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """
                )
                try upsert.bind(serial, at: 1)
                try upsert.bind(event.kind == AuditKind.pumpUnpairRequested.rawValue ? "unpair" : "transfer", at: 2)
                if let target = event.targetPatientId {
                    try upsert.bind(target, at: 3)
                } else {
                    try upsert.bindNull(at: 3)
                }
                try upsert.bind(actor.id, at: 4)
                try upsert.bind(actor.role, at: 5)
                try upsert.bind(event.at, at: 6)
                try upsert.bind(index, at: 7)
                try upsert.run()
            case AuditKind.pumpUnpaired.rawValue, AuditKind.pumpTransferred.rawValue:
                for table in ["pump_binding", "binding_request"] {
                    let delete = try connection.prepare("DELETE FROM \(table) WHERE pump_serial = ?")
                    try delete.bind(serial, at: 1)
                    try delete.run()
                }
                if event.kind == AuditKind.pumpTransferred.rawValue, let target = event.targetPatientId {
                    try insertBinding(event, patient: target, phone: nil, actor: actor, index: index)
                }
            default:
                throw ChangeRequestError(
                    .illegalTransition,
                    "audit entry \(auditIndex): unknown binding step \(event.kind)"
                )
            }
        } catch let error as SQLiteError where error.primaryCode == 19 {  // SQLITE_CONSTRAINT
            throw ChangeRequestError(
                .illegalTransition,
                "audit entry \(auditIndex): \(event.kind) of pump \(serial) contradicts the store (applied already, "
                    + "or a nonce used twice)"
            )
        }
    }

    func hasBindingStep(auditIndex: UInt64) throws -> Bool {
        let select = try connection.prepare("SELECT 1 FROM binding_step WHERE audit_index = ?")
        try select.bind(Int64(auditIndex), at: 1)
        return try select.step()
    }

    private func insertBinding(
        _ event: PumpBindingEvent,
        patient: String,
        phone: String?,
        actor: ChangeActor,
        index: Int64
    ) throws {
        let insert = try connection.prepare(
            """
            INSERT INTO pump_binding(pump_serial, patient_id, phone_id, paired_by, paired_ms, audit_index)
            VALUES (?, ?, ?, ?, ?, ?)
            """
        )
        try insert.bind(event.pumpSerial, at: 1)
        try insert.bind(patient, at: 2)
        if let phone { try insert.bind(phone, at: 3) } else { try insert.bindNull(at: 3) }
        try insert.bind(actor.id, at: 4)
        try insert.bind(event.at, at: 5)
        try insert.bind(index, at: 6)
        try insert.run()
    }
}

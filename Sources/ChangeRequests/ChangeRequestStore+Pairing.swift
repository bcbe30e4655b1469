import AuditLog
import SQLiteStore
public import TherapyModel

/// Pumps bound to patients, written in step with the audit log like every other step (see the
/// type's comment): the binding entry is durable first, then the store commits it, and
/// `recover()` redoes an entry the store lacks. Who may pair, unpair or transfer is the
/// pipeline's check; this store keeps the facts consistent (one binding per pump, every nonce
/// used once) even if two callers race.
extension ChangeRequestStore {
    // MARK: Reading

    /// The patient `serial` is bound to; nil when it is not paired.
    public func binding(for serial: String) throws -> PumpBinding? {
        try reading("read the binding of \(serial)") {
            let select = try connection.prepare(
                "SELECT patient_id, phone_id, paired_by, paired_ms, audit_index FROM pump_binding WHERE pump_serial = ?"
            )
            try select.bind(serial, at: 1)
            guard try select.step() else { return nil }
            return PumpBinding(
                pumpSerial: serial,
                patientID: select.text(0),
                phoneID: select.isNull(1) ? nil : select.text(1),
                boundBy: select.text(2),
                boundAt: Timestamp(millisecondsSinceEpoch: select.int64(3)),
                auditIndex: UInt64(select.int64(4))
            )
        }
    }

    /// The pumps paired to one of `patients`.
    public func pumpSerials(ofPatients patients: Set<String>) throws -> Set<String> {
        guard !patients.isEmpty else { return [] }
        // Every read by a patient, caregiver or clinician asks this: one indexed lookup per
        // patient they act for, not a scan of every binding.
        return try reading("read the pumps of patients") {
            let select = try connection.prepare("SELECT pump_serial FROM pump_binding WHERE patient_id = ?")
            var serials: Set<String> = []
            for patient in patients {
                select.reset()
                try select.bind(patient, at: 1)
                while try select.step() { serials.insert(select.text(0)) }
            }
            return serials
        }
    }

    /// Whether a pairing code with this nonce hash paired a pump already.
    public func isPairingNonceUsed(_ nonceHash: String) throws -> Bool {
        try reading("look up a pairing nonce") {
            let select = try connection.prepare("SELECT 1 FROM pairing_nonce WHERE nonce_hash = ?")
            try select.bind(nonceHash, at: 1)
            return try select.step()
        }
    }

    /// The unpair or transfer of `serial` waiting for its second party, if any.
    public func pendingBindingChange(for serial: String) throws -> PendingBindingChange? {
        try reading("read the pending binding change of \(serial)") {
            let select = try connection.prepare(
                """
                SELECT action, target_patient, requested_by, requested_role, requested_ms, audit_index
                FROM binding_request WHERE pump_serial = ?
                """
            )
            try select.bind(serial, at: 1)
            guard try select.step() else { return nil }
            let action: PendingBindingChange.Action =
                select.text(0) == "transfer" && !select.isNull(1) ? .transfer(toPatient: select.text(1)) : .unpair
            return PendingBindingChange(
                pumpSerial: serial,
                action: action,
                requestedBy: ChangeActor(id: select.text(2), role: select.text(3)),
                requestedAt: Timestamp(millisecondsSinceEpoch: select.int64(4)),
                auditIndex: UInt64(select.int64(5))
            )
        }
    }

    // MARK: Steps

    /// Binds `serial` to `patientID` (and `phoneID`), audited (`pump.paired`, with the nonce's
    /// hash) before it is stored. Refuses a nonce used before (`pairingCodeUsed`) and a pump
    /// that is paired (`pumpAlreadyPaired`).
    public func pair(
        serial: String,
        patientID: String,
        phoneID: String?,
        nonceHash: String,
        by actor: ChangeActor,
        now: Timestamp
    ) async throws -> PumpBinding {
        try Self.validateSerial(serial)
        let binding = try await bindingStep(serial, by: actor) {
            guard try !self.isPairingNonceUsed(nonceHash) else {
                throw ChangeRequestError(
                    .pairingCodeUsed,
                    "this pairing code was used before; ask the pump for a new one"
                )
            }
            guard try self.binding(for: serial) == nil else {
                throw ChangeRequestError(
                    .pumpAlreadyPaired,
                    "pump \(serial) is paired already; unpair it first (its patient and a clinician of theirs)"
                )
            }
            return PumpBindingEvent(
                kind: .pumpPaired,
                pumpSerial: serial,
                patientId: patientID,
                phoneId: phoneID,
                nonceHash: nonceHash,
                at: now.millisecondsSinceEpoch
            )
        }
        guard let binding else {
            throw ChangeRequestError(.storageFailure, "the binding of pump \(serial) was not stored")
        }
        return binding
    }

    /// Records one party's request to unpair or transfer the paired pump `serial`
    /// (`pump.unpair_requested` / `pump.transfer_requested`), replacing any pending one.
    public func requestBindingChange(
        serial: String,
        _ action: PendingBindingChange.Action,
        by actor: ChangeActor,
        now: Timestamp
    ) async throws -> PendingBindingChange {
        try await bindingStep(serial, by: actor) {
            let current = try self.requireBinding(serial)
            return PumpBindingEvent(
                kind: action == .unpair ? .pumpUnpairRequested : .pumpTransferRequested,
                pumpSerial: serial,
                patientId: current.patientID,
                targetPatientId: action.targetPatient,
                at: now.millisecondsSinceEpoch
            )
        }
        guard let pending = try pendingBindingChange(for: serial) else {
            throw ChangeRequestError(.storageFailure, "the binding request of pump \(serial) was not stored")
        }
        return pending
    }

    /// The second party confirms: the pump is unpaired (`pump.unpaired`) or bound to the
    /// transfer's patient (`pump.transferred`). Returns the binding after the step.
    public func completeBindingChange(
        serial: String,
        _ action: PendingBindingChange.Action,
        by actor: ChangeActor,
        now: Timestamp
    ) async throws -> PumpBinding? {
        try await bindingStep(serial, by: actor) {
            let current = try self.requireBinding(serial)
            return PumpBindingEvent(
                kind: action == .unpair ? .pumpUnpaired : .pumpTransferred,
                pumpSerial: serial,
                patientId: current.patientID,
                targetPatientId: action.targetPatient,
                at: now.millisecondsSinceEpoch
            )
        }
        return try binding(for: serial)
    }

    /// One binding step at a time per pump: check, audit, commit. Returns the binding after it.
    @discardableResult
    private func bindingStep(
        _ serial: String,
        by actor: ChangeActor,
        _ event: () throws -> PumpBindingEvent
    ) async throws -> PumpBinding? {
        guard !busyBindings.contains(serial) else {
            throw ChangeRequestError(.requestBusy, "the binding of pump \(serial) is changing; retry shortly")
        }
        busyBindings.insert(serial)
        defer { busyBindings.remove(serial) }
        let step = try event()
        let auditEvent: AuditEvent
        do {
            auditEvent = try step.auditEvent(actor: actor)
        } catch {
            throw ChangeRequestError(.invalidInput, "\(step.kind) for \(serial): \(error)")
        }
        try await record(auditEvent, .binding(step, actor))
        return try binding(for: serial)
    }

    private func requireBinding(_ serial: String) throws -> PumpBinding {
        guard let binding = try binding(for: serial) else {
            throw ChangeRequestError(.pumpNotPaired, "pump \(serial) is paired to no patient")
        }
        return binding
    }
}

import AuditLog
import Foundation
import SQLiteStore
import TherapyJSON
public import TherapyModel

/// One version of a pump's prescription and model, as a clinician set it.
public struct PumpTherapy: Sendable, Hashable {
    public let pumpSerial: String
    /// 1 for the first, then +1 per change; never reused.
    public let version: Int64
    public let prescription: Prescription
    public let model: PumpModel
    /// The pump's settings as the clinician stated them with this version: the gateway's
    /// baseline of what the pump holds, moved on by every change the pump applies since. nil
    /// when none were given (the policy cannot decide changes for such a pump).
    public let settings: TherapySettings?
    public let setBy: ChangeActor
    public let setAt: Timestamp
    /// The `pump.therapy.set` entry that recorded it.
    public let auditIndex: UInt64
}

extension ChangeRequestStore {
    /// Sets the prescription, pump model and (optionally) current settings of `serial` as a new
    /// version, audited (`pump.therapy.set`, with every document) before it is stored. Who may do
    /// this (a clinician of the prescription's patient) is the caller's check.
    public func setTherapy(
        serial: String,
        prescription: Prescription,
        model: PumpModel,
        settings: TherapySettings? = nil,
        by actor: ChangeActor,
        now: Timestamp
    ) async throws -> PumpTherapy {
        try Self.validateSerial(serial)
        guard !busyTherapy.contains(serial) else {
            throw ChangeRequestError(.requestBusy, "the therapy of pump \(serial) is being set; retry shortly")
        }
        busyTherapy.insert(serial)
        defer { busyTherapy.remove(serial) }
        let version = (try therapy(for: serial)?.version ?? 0) + 1
        let event = try PumpTherapyEvent(
            pumpSerial: serial,
            version: version,
            prescription: prescription,
            model: model,
            settings: settings,
            at: now
        )
        let auditEvent: AuditEvent
        do {
            auditEvent = try event.auditEvent(actor: actor)
        } catch {
            throw ChangeRequestError(.invalidInput, "pump.therapy.set for \(serial): \(error)")
        }
        try await record(auditEvent, .therapy(event, actor))
        guard let stored = try therapy(for: serial), stored.version == version else {
            throw ChangeRequestError(.storageFailure, "the therapy of pump \(serial) version \(version) was not stored")
        }
        return stored
    }

    /// The current prescription and model of `serial`; nil if none was ever set.
    public func therapy(for serial: String) throws -> PumpTherapy? {
        try reading("read the therapy of \(serial)") {
            // Another node may write a version at any time: a shared store reads it each time.
            guard let sqlite = connection as? SQLiteConnection else {
                return try therapyVersions(for: serial, latestOnly: true).first
            }
            return try therapyCache.value(of: serial, on: sqlite) {
                try therapyVersions(for: serial, latestOnly: true).first
            }
        }
    }

    /// Every version for `serial`, newest first.
    public func therapyHistory(for serial: String) throws -> [PumpTherapy] {
        try therapyVersions(for: serial, latestOnly: false)
    }

    func applyTherapy(_ event: PumpTherapyEvent, actor: ChangeActor, auditIndex: UInt64) throws {
        therapyCache.remove(event.pumpSerial)
        let insert = try connection.prepare(
            """
            INSERT INTO pump_therapy(pump_serial, version, prescription_json, model_json, set_by, set_by_role, set_ms,
                audit_index, settings_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        )
        try insert.bind(event.pumpSerial, at: 1)
        try insert.bind(event.version, at: 2)
        try insert.bind(String(decoding: try event.prescription.data, as: UTF8.self), at: 3)
        try insert.bind(String(decoding: try event.model.data, as: UTF8.self), at: 4)
        try insert.bind(actor.id, at: 5)
        try insert.bind(actor.role, at: 6)
        try insert.bind(event.at, at: 7)
        try insert.bind(Int64(auditIndex), at: 8)
        if let settings = event.settings {
            try insert.bind(String(decoding: try settings.data, as: UTF8.self), at: 9)
        }
        do {
            try insert.run()
        } catch let error as SQLiteError where error.primaryCode == 19 {  // SQLITE_CONSTRAINT
            throw ChangeRequestError(
                .illegalTransition,
                "audit entry \(auditIndex): version \(event.version) of pump \(event.pumpSerial)'s therapy exists already"
            )
        }
    }

    private func therapyVersions(for serial: String, latestOnly: Bool) throws -> [PumpTherapy] {
        try reading("read the therapy of \(serial)") {
            let select = try connection.prepare(
                """
                SELECT version, prescription_json, model_json, set_by, set_by_role, set_ms, audit_index, settings_json
                FROM pump_therapy WHERE pump_serial = ? ORDER BY version DESC \(latestOnly ? "LIMIT 1" : "")
                """
            )
            try select.bind(serial, at: 1)
            var versions: [PumpTherapy] = []
            while try select.step() {
                let settings = select.isNull(7) ? nil : try? TherapyJSON.settings(from: Data(select.text(7).utf8))
                guard let prescription = try? TherapyJSON.prescription(from: Data(select.text(1).utf8)),
                    let model = try? TherapyJSON.pumpModel(from: Data(select.text(2).utf8)),
                    select.isNull(7) || settings != nil
                else {
                    throw ChangeRequestSchema.malformed(
                        "\(serial) therapy v\(select.int64(0))",
                        "prescription, model or settings"
                    )
                }
                versions.append(
                    PumpTherapy(
                        pumpSerial: serial,
                        version: select.int64(0),
                        prescription: prescription,
                        model: model,
                        settings: settings,
                        setBy: ChangeActor(id: select.text(3), role: select.text(4)),
                        setAt: Timestamp(millisecondsSinceEpoch: select.int64(5)),
                        auditIndex: UInt64(select.int64(6))
                    )
                )
            }
            return versions
        }
    }
}

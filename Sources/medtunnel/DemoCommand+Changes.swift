import AuditLog
import Foundation
import SafetyPolicy
import TherapyJSON
import TherapyModel

/// The demo's therapy: the same formats as Examples/policy (a 0.05 U pump, a 10 U maximum
/// bolus prescribed by the clinician), kept inline so the demo runs from any directory.
enum DemoTherapy {
    static let model = """
        {"name": "Demo 0.05 U pump", "bolusStepMilliunits": 50, "basalRateStepMilliunitsPerHour": 50,
         "maxBolusMilliunits": 25000, "maxBasalRateMilliunitsPerHour": 35000, "maxScheduleEntries": 24,
         "minimumSegmentMinutes": 30, "tempBasalDurationStepMinutes": 30, "maxTempBasalDurationMinutes": 720,
         "supportedControls": ["set_basal_schedule", "temp_basal", "bolus", "set_max_basal", "set_max_bolus",
           "set_carb_ratios", "set_sensitivities", "set_correction_range", "set_suspend_threshold", "suspend", "resume"]}
        """
    static let prescription = """
        {"patientId": "patient-001", "maxBolusMilliunits": 10000, "maxBasalRateMilliunitsPerHour": 3000,
         "maxDailyTotalMilliunits": 60000, "carbRatioGramsPerUnit": {"min": 5, "max": 25},
         "sensitivityMgdLPerUnit": {"min": 20, "max": 150}, "correctionRangeMgdL": {"min": 90, "max": 150},
         "suspendThresholdMgdL": {"min": 70, "max": 90},
         "enabledControls": ["set_basal_schedule", "temp_basal", "bolus", "set_max_basal", "set_max_bolus",
           "set_carb_ratios", "set_sensitivities", "set_correction_range", "set_suspend_threshold", "suspend", "resume"]}
        """
    static let settings = """
        {"basalSchedule": [{"startMinute": 0, "milliunitsPerHour": 800}, {"startMinute": 360, "milliunitsPerHour": 1000}],
         "maxBasalRateMilliunitsPerHour": 3000, "maxBolusMilliunits": 10000,
         "carbRatioSchedule": [{"startMinute": 0, "gramsPerUnit": 10}],
         "sensitivitySchedule": [{"startMinute": 0, "mgdLPerUnit": 45}],
         "correctionRangeSchedule": [{"startMinute": 0, "lowerMgdL": 100, "upperMgdL": 120}],
         "suspendThresholdMgdL": 75}
        """
    static let patient = """
        {"id": "user-patient-001", "role": "patient", "authenticated": true, "patientIds": ["patient-001"]}
        """

    static func context(now: Date) throws -> PolicyContext {
        PolicyContext(
            settings: try TherapyJSON.settings(from: Data(self.settings.utf8)),
            model: try TherapyJSON.pumpModel(from: Data(self.model.utf8)),
            prescription: try TherapyJSON.prescription(from: Data(self.prescription.utf8)),
            history: .empty,
            lockout: .unlocked,
            now: Timestamp(millisecondsSinceEpoch: Int64(now.timeIntervalSince1970 * 1000))
        )
    }
}

extension DemoCommand {
    /// A setting change decided by the safety policy and written durably to the audit log.
    func decideAndLog(
        _ changeJSON: String,
        story: DemoStory,
        log: AuditLog,
        serial: String
    ) async throws -> (PolicyDecision, UInt64) {
        let now = Date()
        let context = try DemoTherapy.context(now: now)
        let actor = try TherapyJSON.actor(from: Data(DemoTherapy.patient.utf8))
        let change = try TherapyJSON.change(from: Data(changeJSON.utf8))
        let decision = TherapyPolicy.evaluate(change, by: actor, context: context)
        let decisionJSON = String(decoding: TherapyJSON.encode(decision), as: UTF8.self)
        let payload = "{\"change\":\(changeJSON),\"decision\":\(decisionJSON)}"
        let receipt = try await log.append(
            try AuditEvent(
                timeMilliseconds: Int64(now.timeIntervalSince1970 * 1000),
                actor: try AuditActor(id: actor.id, role: "patient"),
                kind: .changeDecided,
                pumpSerial: serial,
                payload: Array(payload.utf8)
            )
        )
        return (decision, receipt.index)
    }
}

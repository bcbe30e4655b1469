import AuditLog
import Foundation
import SafetyPolicy
import Testing
import TherapyJSON
import TherapyModel

@testable import ChangeRequests

/// A state directory on disk with a real audit log and change-request store.
struct StoreFixture {
    let directory: String
    let audit: AuditLog
    let store: ChangeRequestStore

    static let now = Timestamp(millisecondsSinceEpoch: 1_763_700_000_000)
    static let serial = "PUMP-0001"

    static func make() async throws -> StoreFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("changes-\(UUID().uuidString)")
            .path
        let audit = try await AuditLog.open(stateDirectory: directory)
        return StoreFixture(
            directory: directory,
            audit: audit,
            store: try ChangeRequestStore.open(stateDirectory: directory, audit: audit)
        )
    }

    /// The same state directory opened again, as a restarted gateway would (the old store
    /// instance is simply abandoned, as a killed process's would be).
    func restarted() async throws -> StoreFixture {
        let audit = try await AuditLog.open(stateDirectory: directory)
        return StoreFixture(
            directory: directory,
            audit: audit,
            store: try ChangeRequestStore.open(stateDirectory: directory, audit: audit)
        )
    }

    static let patient = PolicyActor(id: "alice", role: .patient, isAuthenticated: true, patientIDs: ["patient-001"])
    static let clinician = PolicyActor(
        id: "drsmith",
        role: .clinician,
        isAuthenticated: true,
        patientIDs: ["patient-001"]
    )
    static let secondClinician = ChangeActor(id: "drjones", role: "clinician")

    static func bolus(_ milliunits: Int64) -> SettingChange { .bolus(Milliunits(milliunits)) }

    static let accept = PolicyDecision.accept
    static let needsApproval = PolicyDecision.needsApproval([
        PolicyReason(code: .maxBolusOutsideRecommended, message: "above the recommended maximum")
    ])
    static let reject = PolicyDecision.reject([
        PolicyReason(code: .prescriptionMaxBolusExceeded, message: "12 U is above the prescription's 10 U")
    ])

    func submit(
        _ change: SettingChange = StoreFixture.bolus(2000),
        key: String = UUID().uuidString,
        by actor: PolicyActor = StoreFixture.patient,
        decision: PolicyDecision = StoreFixture.accept,
        serial: String = StoreFixture.serial,
        at time: Timestamp = StoreFixture.now
    ) async throws -> ChangeRequest {
        try await store.submit(
            ChangeSubmission(
                pumpSerial: serial,
                requester: actor,
                idempotencyKey: key,
                change: change,
                decision: decision
            ),
            now: time
        ).request
    }

    func entries() async throws -> [AuditEntry] {
        try await audit.entries(in: 0..<(try await audit.storedSize()))
    }

    static func later(_ minutes: Int64) -> Timestamp { now.advanced(byMinutes: minutes) }

    static let prescription = try! TherapyJSON.prescription(
        from: Data(
            """
            {"patientId": "patient-001", "maxBolusMilliunits": 10000, "maxBasalRateMilliunitsPerHour": 3000,
             "maxDailyTotalMilliunits": 60000, "carbRatioGramsPerUnit": {"min": 5, "max": 25},
             "sensitivityMgdLPerUnit": {"min": 20, "max": 150}, "correctionRangeMgdL": {"min": 90, "max": 150},
             "suspendThresholdMgdL": {"min": 70, "max": 90}, "enabledControls": ["bolus", "temp_basal", "suspend"]}
            """.utf8
        )
    )

    static let model = try! TherapyJSON.pumpModel(
        from: Data(
            """
            {"name": "Example 0.05 U pump", "bolusStepMilliunits": 50, "basalRateStepMilliunitsPerHour": 50,
             "maxBolusMilliunits": 25000, "maxBasalRateMilliunitsPerHour": 35000, "maxScheduleEntries": 24,
             "minimumSegmentMinutes": 30, "tempBasalDurationStepMinutes": 30, "maxTempBasalDurationMinutes": 720,
             "supportedControls": ["bolus", "temp_basal", "suspend", "resume", "set_basal_schedule"]}
            """.utf8
        )
    )
}

/// Runs `body` and returns the `ChangeRequestError` it throws (recording an issue if it throws
/// nothing or something else).
func changeError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> ChangeRequestError? {
    do {
        try await body()
        Issue.record("no error thrown", sourceLocation: sourceLocation)
    } catch let error as ChangeRequestError {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

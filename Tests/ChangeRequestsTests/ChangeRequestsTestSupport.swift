import AuditLog
import AuditPostgres
import Foundation
import MedTunnelTestSupport
import SafetyPolicy
import StoresPostgres
import Testing
import TherapyJSON
import TherapyModel

@testable import ChangeRequests

/// Where the store suites run: `@Test(arguments: ChangeBackend.allCases)` (sqlite: the store's own
/// file beside a SQLite log; postgres: its tables in the log's database, several nodes).
typealias ChangeBackend = StoreBackend

/// A real audit log and change-request store: a state directory on disk (SQLite), or a
/// PostgreSQL database of the test's own with the checkpoint key in a state directory.
struct StoreFixture {
    let backend: ChangeBackend
    let directory: String
    let postgresURL: String?
    let audit: AuditLog
    let store: ChangeRequestStore

    static let now = Timestamp(millisecondsSinceEpoch: 1_763_700_000_000)
    static let serial = "PUMP-0001"

    static func make(_ backend: ChangeBackend = .sqlite) async throws -> StoreFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("changes-\(UUID().uuidString)")
            .path
        return try await open(
            backend,
            directory: directory,
            postgresURL: backend == .postgres ? try PostgresTestServer.newDatabase() : nil
        )
    }

    private static func open(
        _ backend: ChangeBackend,
        directory: String,
        postgresURL: String?
    ) async throws -> StoreFixture {
        switch backend {
        case .sqlite:
            let audit = try await AuditLog.open(stateDirectory: directory)
            return StoreFixture(
                backend: backend,
                directory: directory,
                postgresURL: nil,
                audit: audit,
                store: try ChangeRequestStore.open(stateDirectory: directory, audit: audit)
            )
        case .postgres:
            let url = try #require(postgresURL)
            let state = AuditStateDirectory(path: directory)
            try state.create()
            let audit = try await AuditLog(
                store: try await PostgresAuditStore(url: url),
                signer: try state.signer(name: "medtunnel.local/audit", create: true)
            )
            let database = try await PostgresSharedDatabase.connect(url: url)
            return StoreFixture(
                backend: backend,
                directory: directory,
                postgresURL: url,
                audit: audit,
                store: ChangeRequestStore(shared: database, audit: audit)
            )
        }
    }

    /// The same store opened again, as a restarted gateway would (the old store instance is
    /// simply abandoned, as a killed process's would be).
    func restarted() async throws -> StoreFixture {
        try await Self.open(backend, directory: directory, postgresURL: postgresURL)
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

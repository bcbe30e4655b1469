import SafetyPolicy
import TherapyModel

/// A typical 0.05 U pump, its settings and a prescription, like `Examples/policy/`.
enum PolicyFixtures {
    static let patient = "patient-001"
    /// 2026-11-21T08:00:00Z
    static let now = Timestamp(millisecondsSinceEpoch: 1_795_248_000_000)

    static func model(maxBolus: Int64 = 25_000, maxBasal: Int64 = 35_000, controls: ControlSet = .all) -> PumpModel {
        try! PumpModel(
            name: "Test pump",
            bolusStep: Milliunits(50),
            basalRateStep: MilliunitsPerHour(50),
            maxBolus: Milliunits(maxBolus),
            maxBasalRate: MilliunitsPerHour(maxBasal),
            maxScheduleEntries: 24,
            minimumSegmentMinutes: 30,
            tempBasalDurationStepMinutes: 30,
            maxTempBasalDurationMinutes: 720,
            supportedControls: controls
        )
    }

    static let standardBasal: [(Int, Int64)] = [(0, 800), (360, 1000), (720, 900), (1260, 800)]

    static func settings(
        basal: [(Int, Int64)] = standardBasal,
        maxBasal: Int64 = 3_000,
        maxBolus: Int64 = 10_000,
        correction: (Int64, Int64) = (100, 120),
        suspendThreshold: Int64 = 75
    ) -> TherapySettings {
        TherapySettings(
            basalSchedule: basalSchedule(basal),
            maxBasalRate: MilliunitsPerHour(maxBasal),
            maxBolus: Milliunits(maxBolus),
            carbRatioSchedule: try! DailySchedule([
                .init(startMinute: 0, value: CarbRatio(gramsPerUnit: 10)),
                .init(startMinute: 660, value: CarbRatio(gramsPerUnit: 12)),
            ]),
            sensitivitySchedule: DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: 45)),
            correctionRangeSchedule: correctionSchedule(correction.0, correction.1),
            suspendThreshold: GlucoseMgdL(suspendThreshold)
        )
    }

    static func prescription(
        maxBolus: Int64 = 10_000,
        maxBasal: Int64 = 3_000,
        maxDaily: Int64 = 60_000,
        carbRatio: ClosedRange<Int64> = 5...25,
        sensitivity: ClosedRange<Int64> = 20...150,
        correction: ClosedRange<Int64> = 90...150,
        suspendThreshold: ClosedRange<Int64> = 70...90,
        controls: ControlSet = .all,
        patient: String = patient,
        maxIOB: Int64? = nil
    ) -> Prescription {
        try! Prescription(
            patientID: patient,
            maxBolus: Milliunits(maxBolus),
            maxBasalRate: MilliunitsPerHour(maxBasal),
            maxDailyTotal: Milliunits(maxDaily),
            carbRatioRange: CarbRatio(
                gramsPerUnit: carbRatio.lowerBound
            )...CarbRatio(gramsPerUnit: carbRatio.upperBound),
            sensitivityRange: InsulinSensitivity(
                mgdLPerUnit: sensitivity.lowerBound
            )...InsulinSensitivity(
                mgdLPerUnit: sensitivity.upperBound
            ),
            correctionRange: GlucoseMgdL(correction.lowerBound)...GlucoseMgdL(correction.upperBound),
            suspendThresholdRange: GlucoseMgdL(suspendThreshold.lowerBound)...GlucoseMgdL(suspendThreshold.upperBound),
            enabledControls: controls,
            maxInsulinOnBoard: maxIOB.map { Milliunits($0) }
        )
    }

    /// A prescription that never binds, so guardrail boundaries can be tested alone.
    static let wide = prescription(
        maxBolus: 40_000,
        maxBasal: 40_000,
        maxDaily: 1_000_000,
        carbRatio: 1...1000,
        sensitivity: 1...1000,
        correction: 1...1000,
        suspendThreshold: 1...1000
    )

    static func context(
        settings: TherapySettings = settings(),
        model: PumpModel = model(),
        prescription: Prescription = prescription(),
        history: DeliveryHistory = .empty,
        lockout: LockoutState = .unlocked,
        pump: ReportedPumpState? = nil
    ) -> PolicyContext {
        PolicyContext(
            settings: settings,
            model: model,
            prescription: prescription,
            history: history,
            lockout: lockout,
            now: now,
            pump: pump
        )
    }

    static func actor(
        _ role: ActorRole,
        id: String? = nil,
        patients: Set<String> = [patient],
        authenticated: Bool = true,
        restriction: ControlSet? = nil
    ) -> PolicyActor {
        PolicyActor(
            id: id ?? "user-\(role)",
            role: role,
            isAuthenticated: authenticated,
            patientIDs: patients,
            controlRestriction: restriction
        )
    }

    static func basalSchedule(_ entries: [(Int, Int64)]) -> DailySchedule<MilliunitsPerHour> {
        try! DailySchedule(entries.map { .init(startMinute: $0.0, value: MilliunitsPerHour($0.1)) })
    }

    static func correctionSchedule(_ lower: Int64, _ upper: Int64) -> DailySchedule<CorrectionRange> {
        DailySchedule(constant: try! CorrectionRange(lower: GlucoseMgdL(lower), upper: GlucoseMgdL(upper)))
    }

    static func delivery(_ kind: DeliveryHistory.Kind, _ milliunits: Int64, minutesAgo: Int64) -> DeliveryHistory.Record
    {
        .init(time: now.advanced(byMinutes: -minutesAgo), kind: kind, amount: Milliunits(milliunits))
    }

    /// `"accept"`, `"needs_approval"` or `"reject"` and the reason codes, for compact expectations.
    static func outcome(_ decision: PolicyDecision) -> Outcome {
        Outcome(decision.name, decision.reasons.map(\.code.rawValue))
    }

    static func evaluate(_ change: SettingChange, by role: ActorRole, in context: PolicyContext) -> Outcome {
        outcome(TherapyPolicy.evaluate(change, by: actor(role), context: context))
    }
}

/// A decision's name and reason codes.
struct Outcome: Equatable, CustomStringConvertible {
    let decision: String
    let codes: [String]

    init(_ decision: String, _ codes: [String] = []) {
        self.decision = decision
        self.codes = codes
    }

    static let accept = Outcome("accept")
    static func approval(_ codes: String...) -> Outcome { Outcome("needs_approval", codes) }
    static func reject(_ codes: String...) -> Outcome { Outcome("reject", codes) }

    var description: String { "\(decision) \(codes)" }
}

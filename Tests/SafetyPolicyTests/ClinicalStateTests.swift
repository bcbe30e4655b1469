import SafetyPolicy
import Testing
import TherapyModel

/// The policy reads what the pump reports about itself (suspended, reservoir, glucose, each with
/// its age) and insulin on board: each rule at its boundary, and stale or missing data as unknown.
@Suite("Policy: the pump's clinical state and insulin on board")
struct ClinicalStateTests {
    typealias F = PolicyFixtures
    static let patient = F.actor(.patient)

    /// Reported `minutesAgo` before the fixtures' now.
    static func at(_ minutesAgo: Int64) -> Timestamp { F.now.advanced(byMinutes: -minutesAgo) }

    static func state(
        suspended: Bool? = false,
        reservoir: Int64? = 150_000,
        glucose: Int64? = 120,
        minutesAgo: Int64 = 1
    ) -> ReportedPumpState {
        ReportedPumpState(
            suspended: suspended.map { .init($0, at: at(minutesAgo)) },
            reservoir: reservoir.map { .init(Milliunits($0), at: at(minutesAgo)) },
            glucose: glucose.map { .init(GlucoseMgdL($0), at: at(minutesAgo)) }
        )
    }

    static func decide(
        _ change: SettingChange,
        _ pump: ReportedPumpState?,
        prescription: Prescription = F.prescription(),
        history: DeliveryHistory = .empty
    )
        -> PolicyDecision
    {
        TherapyPolicy.evaluate(
            change,
            by: patient,
            context: F.context(prescription: prescription, history: history, pump: pump)
        )
    }

    static func codes(_ decision: PolicyDecision) -> [String] {
        switch decision {
        case .accept: []
        case .needsApproval(let reasons), .reject(let reasons): reasons.map(\.code.rawValue)
        }
    }

    @Test("a bolus or temp basal on a suspended pump is rejected pump_suspended; settings and resume pass")
    func suspended() {
        let pump = Self.state(suspended: true)
        #expect(Self.codes(Self.decide(.bolus(Milliunits(500)), pump)) == ["pump_suspended"])
        #expect(
            Self.codes(Self.decide(.tempBasal(rate: MilliunitsPerHour(500), durationMinutes: 30), pump)) == [
                "pump_suspended"
            ]
        )
        #expect(Self.decide(.resume, pump) == .accept)
        #expect(Self.decide(.suspend, pump) == .accept)
        #expect(
            Self.decide(.resume, Self.state(suspended: false)) == .accept,
            "a resume while running is a no-op, accepted"
        )
        #expect(Self.decide(.bolus(Milliunits(500)), Self.state(suspended: false)) == .accept)
    }

    @Test("unknown or stale delivery state: a bolus needs a second person (pump_state_unknown)")
    func unknownState() {
        #expect(Self.codes(Self.decide(.bolus(Milliunits(500)), Self.state(suspended: nil))) == ["pump_state_unknown"])
        let stale = ReportedPumpState(
            suspended: .init(false, at: Self.at(61)),
            reservoir: .init(Milliunits(150_000), at: Self.at(1)),
            glucose: .init(GlucoseMgdL(120), at: Self.at(1))
        )
        #expect(Self.codes(Self.decide(.bolus(Milliunits(500)), stale)) == ["pump_state_unknown"])
        let fresh = ReportedPumpState(
            suspended: .init(false, at: Self.at(60)),
            reservoir: .init(Milliunits(150_000), at: Self.at(1)),
            glucose: .init(GlucoseMgdL(120), at: Self.at(1))
        )
        #expect(Self.decide(.bolus(Milliunits(500)), fresh) == .accept)
        // Not tracked at all (no pump state given): the rules are not run.
        #expect(Self.decide(.bolus(Milliunits(5_000)), nil) == .accept)
    }

    @Test("a bolus above what the reservoir reports is rejected; at it, accepted")
    func reservoir() {
        let pump = Self.state(reservoir: 2_000)
        #expect(Self.decide(.bolus(Milliunits(2_000)), pump) == .accept)
        #expect(Self.codes(Self.decide(.bolus(Milliunits(2_050)), pump)) == ["reservoir_insufficient"])
        #expect(Self.decide(.bolus(Milliunits(2_050)), Self.state(reservoir: nil)) == .accept)
    }

    @Test("glucose below the suspend threshold (75) rejects a bolus; at it, accepted; stale after 15 minutes")
    func glucose() {
        #expect(Self.decide(.bolus(Milliunits(500)), Self.state(glucose: 75)) == .accept)
        #expect(
            Self.codes(Self.decide(.bolus(Milliunits(500)), Self.state(glucose: 74))) == [
                "glucose_below_suspend_threshold"
            ]
        )
        // Stale (16 minutes) or missing glucose: up to 1 U without approval, above it with.
        let stale = ReportedPumpState(
            suspended: .init(false, at: Self.at(1)),
            reservoir: .init(Milliunits(150_000), at: Self.at(1)),
            glucose: .init(GlucoseMgdL(40), at: Self.at(16))
        )
        #expect(Self.decide(.bolus(Milliunits(1_000)), stale) == .accept)
        #expect(Self.codes(Self.decide(.bolus(Milliunits(1_050)), stale)) == ["glucose_unknown"])
        #expect(Self.codes(Self.decide(.bolus(Milliunits(1_050)), Self.state(glucose: nil))) == ["glucose_unknown"])
        // A temporary basal is not a bolus: glucose rules do not apply to it.
        #expect(
            Self.decide(.tempBasal(rate: MilliunitsPerHour(500), durationMinutes: 30), Self.state(glucose: 40))
                == .accept
        )
    }

    @Test(
        "max IOB: a bolus that would raise insulin on board above the prescription is rejected, naming what may still be given"
    )
    func maxIOB() throws {
        let prescription = F.prescription(maxIOB: 5_000)
        #expect(Self.decide(.bolus(Milliunits(5_000)), nil, prescription: prescription) == .accept)
        #expect(
            Self.codes(Self.decide(.bolus(Milliunits(5_050)), nil, prescription: prescription)) == ["max_iob_exceeded"]
        )
        // 3 U given 10 minutes ago (the model's delay): all 3 U still on board; 2 U may still be given.
        let history = DeliveryHistory(records: [.init(time: Self.at(10), kind: .bolus, amount: Milliunits(3_000))])
        #expect(Self.decide(.bolus(Milliunits(2_000)), nil, prescription: prescription, history: history) == .accept)
        let decision = Self.decide(.bolus(Milliunits(2_050)), nil, prescription: prescription, history: history)
        #expect(Self.codes(decision) == ["max_iob_exceeded"])
        guard case .reject(let reasons) = decision else {
            Issue.record("not rejected")
            return
        }
        #expect(reasons[0].message.contains("at most 2 U may be given now"), "\(reasons[0].message)")
        // Six hours and ten minutes later nothing of it acts: the full 5 U may be given.
        let old = DeliveryHistory(records: [.init(time: Self.at(371), kind: .bolus, amount: Milliunits(3_000))])
        #expect(Self.decide(.bolus(Milliunits(5_000)), nil, prescription: prescription, history: old) == .accept)
    }

    @Test("property: with a max IOB, no accepted bolus leaves insulin on board above it", arguments: 0..<50)
    func noAcceptedBolusExceedsMaxIOB(seed: Int) {
        var random = SeededGenerator(seed: UInt64(seed) &+ 1_000)
        let limit = Int64.random(in: 1...20, using: &random) * 500
        let prescription = F.prescription(maxBolus: 10_000, maxDaily: 200_000, maxIOB: limit)
        var records: [DeliveryHistory.Record] = []
        for _ in 0..<Int.random(in: 0...8, using: &random) {
            records.append(
                .init(
                    time: Self.at(Int64.random(in: 0...(24 * 60), using: &random)),
                    kind: .bolus,
                    amount: Milliunits(Int64.random(in: 1...40, using: &random) * 50)
                )
            )
        }
        let context = F.context(prescription: prescription, history: DeliveryHistory(records: records))
        let amount = Milliunits(Int64.random(in: 1...200, using: &random) * 50)
        let decision = TherapyPolicy.evaluate(.bolus(amount), by: Self.patient, context: context)
        if decision == .accept {
            let onBoard = TherapyPolicy.insulinOnBoard(context)
            #expect(onBoard.rawValue + amount.rawValue <= limit, "IOB \(onBoard) + \(amount) > \(limit)")
        }
    }
}

import SafetyPolicy
import Testing
import TherapyModel

/// Every role × every change kind, the empty-intersection cases, and lockout.
@Suite("Authorization matrix")
struct AuthorizationMatrixTests {
    private typealias F = PolicyFixtures

    /// The expected matrix, written out independently of `ActorRole.therapyControls`.
    static let allowed: [ActorRole: Set<ControlKind>] = [
        .patient: [
            .bolus, .tempBasal, .suspend, .resume, .setBasalSchedule, .setCarbRatios, .setSensitivities,
            .setCorrectionRange, .setSuspendThreshold,
        ],
        .caregiver: [.bolus, .tempBasal, .suspend, .resume],
        .clinician: [
            .setBasalSchedule, .setMaxBasal, .setMaxBolus, .setCarbRatios, .setSensitivities, .setCorrectionRange,
            .setSuspendThreshold, .suspend, .resume,
        ],
        .operator: [],
        .incident: [],
        .admin: [],
    ]

    /// A change of each kind that the standard context accepts.
    static func sample(_ kind: ControlKind) -> SettingChange {
        switch kind {
        case .setBasalSchedule: .setBasalSchedule(F.basalSchedule(F.standardBasal))
        case .tempBasal: .tempBasal(rate: MilliunitsPerHour(1_000), durationMinutes: 30)
        case .bolus: .bolus(Milliunits(1_000))
        case .setMaxBasal: .setMaxBasal(MilliunitsPerHour(3_000))
        case .setMaxBolus: .setMaxBolus(Milliunits(10_000))
        case .setCarbRatios: .setCarbRatios(DailySchedule(constant: CarbRatio(gramsPerUnit: 10)))
        case .setSensitivities: .setSensitivities(DailySchedule(constant: InsulinSensitivity(mgdLPerUnit: 45)))
        case .setCorrectionRange: .setCorrectionRange(F.correctionSchedule(100, 120))
        case .setSuspendThreshold: .setSuspendThreshold(GlucoseMgdL(75))
        case .suspend: .suspend
        case .resume: .resume
        }
    }

    @Test("role × change kind", arguments: ActorRole.allCases, ControlKind.allCases)
    func matrix(role: ActorRole, kind: ControlKind) {
        let outcome = F.evaluate(Self.sample(kind), by: role, in: F.context())
        let roleControls = Self.allowed[role] ?? []
        if roleControls.contains(kind) {
            #expect(outcome == .accept)
        } else if roleControls.isEmpty {
            #expect(outcome == .reject("not_authorized"))
        } else {
            #expect(outcome == .reject("control_not_permitted"))
        }
    }

    @Test("the role table matches the documented matrix", arguments: ActorRole.allCases)
    func roleTable(role: ActorRole) {
        #expect(Set(role.therapyControls.kinds) == Self.allowed[role])
    }

    @Test("unauthenticated actors are refused before anything else", arguments: ActorRole.allCases)
    func notAuthenticated(role: ActorRole) {
        let actor = F.actor(role, authenticated: false)
        let decision = TherapyPolicy.evaluate(.suspend, by: actor, context: F.context(lockout: .lockedOut(reason: "x")))
        #expect(F.outcome(decision) == .reject("not_authenticated"))
        let anonymous = F.actor(role, id: "")
        #expect(
            F.outcome(TherapyPolicy.evaluate(.suspend, by: anonymous, context: F.context()))
                == .reject("not_authenticated")
        )
    }

    @Test func notAuthenticatedDiffersFromNotAuthorized() {
        let model = F.model()
        let prescription = F.prescription()
        #expect(
            Authorization.controls(
                for: F.actor(.patient, authenticated: false),
                model: model,
                prescription: prescription
            ) == .notAuthenticated
        )
        #expect(
            Authorization.controls(for: F.actor(.operator), model: model, prescription: prescription) == .notAuthorized
        )
        #expect(
            Authorization.controls(for: F.actor(.caregiver), model: model, prescription: prescription)
                == .authorized(ControlSet([.bolus, .tempBasal, .suspend, .resume]))
        )
    }

    @Test func actorOfAnotherPatientHasAnEmptyIntersection() {
        let stranger = F.actor(.clinician, patients: ["patient-002"])
        #expect(
            F.outcome(TherapyPolicy.evaluate(.suspend, by: stranger, context: F.context())) == .reject("not_authorized")
        )
    }

    @Test func actorRestrictionOutsideTheRoleIsEmpty() {
        let caregiver = F.actor(.caregiver, restriction: ControlSet([.setMaxBolus]))
        #expect(
            F.outcome(TherapyPolicy.evaluate(.bolus(Milliunits(1_000)), by: caregiver, context: F.context()))
                == .reject("not_authorized")
        )
        let suspendOnly = F.actor(.caregiver, restriction: ControlSet([.suspend]))
        #expect(F.outcome(TherapyPolicy.evaluate(.suspend, by: suspendOnly, context: F.context())) == .accept)
        #expect(
            F.outcome(TherapyPolicy.evaluate(.bolus(Milliunits(1_000)), by: suspendOnly, context: F.context()))
                == .reject("control_not_permitted")
        )
    }

    @Test func prescriptionEnablingNothingIsEmpty() {
        let context = F.context(prescription: F.prescription(controls: .empty))
        #expect(F.evaluate(.suspend, by: .patient, in: context) == .reject("not_authorized"))
        let suspendOnly = F.context(prescription: F.prescription(controls: ControlSet([.suspend, .resume])))
        #expect(
            F.evaluate(.bolus(Milliunits(1_000)), by: .patient, in: suspendOnly) == .reject("control_not_permitted")
        )
        #expect(F.evaluate(.suspend, by: .patient, in: suspendOnly) == .accept)
    }

    @Test func pumpModelControlsBoundTheIntersection() {
        let bolusPump = F.context(model: F.model(controls: ControlSet([.bolus])))
        #expect(F.evaluate(.suspend, by: .clinician, in: bolusPump) == .reject("not_authorized"))
        #expect(F.evaluate(.suspend, by: .patient, in: bolusPump) == .reject("control_not_permitted"))
        #expect(F.evaluate(.bolus(Milliunits(1_000)), by: .patient, in: bolusPump) == .accept)
    }

    @Test("lockout refuses every remote change", arguments: ControlKind.allCases)
    func lockout(kind: ControlKind) {
        let context = F.context(lockout: .lockedOut(reason: "incident 42"))
        let role: ActorRole = (Self.allowed[.patient] ?? []).contains(kind) ? .patient : .clinician
        let decision = TherapyPolicy.evaluate(Self.sample(kind), by: F.actor(role), context: context)
        #expect(F.outcome(decision) == .reject("pump_locked_out"))
        #expect(decision.reasons.first?.message.contains("incident 42") == true)
    }
}

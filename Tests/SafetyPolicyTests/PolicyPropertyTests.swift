import SafetyPolicy
import Testing
import TherapyModel

/// Properties over random models, settings, prescriptions, histories, actors and changes:
/// no accepted change (or change sent for approval) exceeds the pump's hardware, the
/// prescription or an absolute bound; every non-accept carries a reason; the decision is
/// deterministic. Failures print the seed and the iteration to replay them.
@Suite("Policy properties")
struct PolicyPropertyTests {
    static let iterations = 3_000

    @Test func acceptedChangesStayWithinEveryHardLimit() {
        let seed = SeededGenerator.seedFromEnvironment
        var random = SeededGenerator(seed: seed)
        var counts: [String: Int] = [:]
        for iteration in 0..<Self.iterations {
            let model = random.model()
            let settings = random.settings(model: model)
            let context = PolicyContext(
                settings: settings,
                model: model,
                prescription: random.prescription(),
                history: random.history(now: PolicyFixtures.now),
                lockout: random.chance(5) ? .lockedOut(reason: "test") : .unlocked,
                now: PolicyFixtures.now
            )
            let actor = random.chance(20) ? PolicyFixtures.actor(.patient) : random.actor()
            let change = random.change(model: model, settings: settings)
            let decision = TherapyPolicy.evaluate(change, by: actor, context: context)
            counts[decision.name, default: 0] += 1
            let replay = "seed \(seed), iteration \(iteration): \(change) by \(actor.role) → \(decision)"

            // Deterministic, and independent of the order of the history.
            #expect(TherapyPolicy.evaluate(change, by: actor, context: context) == decision, "\(replay)")
            let reversed = PolicyContext(
                settings: context.settings,
                model: context.model,
                prescription: context.prescription,
                history: DeliveryHistory(records: context.history.records.reversed()),
                lockout: context.lockout,
                now: context.now
            )
            #expect(TherapyPolicy.evaluate(change, by: actor, context: reversed) == decision, "\(replay)")

            switch decision {
            case .reject(let reasons), .needsApproval(let reasons):
                #expect(!reasons.isEmpty, "\(replay)")
                if case .reject = decision { continue }
            case .accept:
                break
            }
            let violations = Oracle.violations(of: change, by: actor, context: context)
            #expect(violations.isEmpty, "\(replay): \(violations)")
        }
        // The property must not hold vacuously: every outcome occurs.
        #expect((counts["accept"] ?? 0) > Self.iterations / 20, "seed \(seed): \(counts)")
        #expect((counts["needs_approval"] ?? 0) > Self.iterations / 200, "seed \(seed): \(counts)")
        #expect((counts["reject"] ?? 0) > Self.iterations / 20, "seed \(seed): \(counts)")
    }
}

/// An independent statement of the limits, written from the issue and LoopKit's numbers
/// rather than from the policy code: what any accepted change must satisfy.
enum Oracle {
    static func violations(of change: SettingChange, by actor: PolicyActor, context: PolicyContext) -> [String] {
        var found: [String] = []
        let model = context.model
        let settings = context.settings
        let prescription = context.prescription
        func require(_ condition: Bool, _ what: String) {
            if !condition { found.append(what) }
        }
        require(actor.isAuthenticated && !actor.id.isEmpty, "unauthenticated")
        require(actor.patientIDs.contains(prescription.patientID), "not linked")
        require(![ActorRole.operator, .incident, .admin].contains(actor.role), "role without therapy controls")
        require(actor.role.therapyControls.contains(change.kind), "role lacks control")
        require(model.supportedControls.contains(change.kind), "pump lacks control")
        require(prescription.enabledControls.contains(change.kind), "prescription disables control")
        require(actor.controlRestriction?.contains(change.kind) ?? true, "actor restricted")
        require(context.lockout == .unlocked, "locked out")
        require(PumpHardLimits.check(change, settings: settings, model: model) == .withinLimits, "pump hard limits")

        let dailySoFar = context.history.records
            .filter { $0.time >= context.now.advanced(byMinutes: -1440) }
            .reduce(Milliunits.zero) { $0.addingSaturating(max($1.amount, .zero)) }
        switch change {
        case .bolus(let amount):
            require(amount > .zero && amount.rawValue <= 30_000, "bolus absolute")
            require(amount <= prescription.maxBolus && amount <= model.maxBolus, "bolus prescription/hardware")
            require(dailySoFar.addingSaturating(amount) <= prescription.maxDailyTotal, "daily total")
            let hour = context.history.records
                .filter { $0.kind == .bolus && $0.time >= context.now.advanced(byMinutes: -60) }
                .reduce(Milliunits.zero) { $0.addingSaturating(max($1.amount, .zero)) }
            let maxBolus = min(settings.maxBolus, prescription.maxBolus).rawValue
            require(hour.addingSaturating(amount).rawValue * 2 <= maxBolus * 3, "1.5 × max bolus per hour")
        case .tempBasal(let rate, let minutes):
            require(rate <= settings.maxBasalRate && rate <= prescription.maxBasalRate, "temp basal above max basal")
            let dose = rate.insulin(overMinutes: minutes) ?? Milliunits(Int64.max)
            require(dailySoFar.addingSaturating(dose) <= prescription.maxDailyTotal, "daily total")
        case .setBasalSchedule(let schedule):
            for rate in schedule.values {
                require(rate.rawValue >= 0 && rate.rawValue <= 30_000, "basal absolute")
                require(rate <= prescription.maxBasalRate, "basal prescription")
            }
        case .setMaxBasal(let rate):
            let lowestCarbRatio = max(settings.carbRatioSchedule.values.min()?.gramsPerUnit ?? 2, 2)
            require(rate.rawValue <= 70_000 / lowestCarbRatio, "max basal absolute")
            require(rate <= prescription.maxBasalRate, "max basal prescription")
        case .setMaxBolus(let amount):
            require(amount.rawValue > 0 && amount.rawValue <= 30_000, "max bolus absolute")
            require(amount <= prescription.maxBolus, "max bolus prescription")
        case .setCarbRatios(let schedule):
            for ratio in schedule.values {
                require((2...150).contains(ratio.gramsPerUnit), "carb ratio absolute")
                require(prescription.carbRatioRange.contains(ratio), "carb ratio prescription")
            }
        case .setSensitivities(let schedule):
            for sensitivity in schedule.values {
                require((10...500).contains(sensitivity.mgdLPerUnit), "sensitivity absolute")
                require(prescription.sensitivityRange.contains(sensitivity), "sensitivity prescription")
            }
        case .setCorrectionRange(let schedule):
            for range in schedule.values {
                require(
                    (87...180).contains(range.lower.rawValue) && (87...180).contains(range.upper.rawValue),
                    "correction absolute"
                )
                require(
                    prescription.correctionRange.contains(range.lower)
                        && prescription.correctionRange.contains(range.upper),
                    "correction prescription"
                )
                require(range.lower >= settings.suspendThreshold, "correction below suspend threshold")
            }
        case .setSuspendThreshold(let threshold):
            require((67...110).contains(threshold.rawValue), "suspend threshold absolute")
            require(prescription.suspendThresholdRange.contains(threshold), "suspend threshold prescription")
        case .suspend, .resume:
            break
        }
        return found
    }
}

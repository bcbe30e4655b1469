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
            let violations = PolicyOracle.violations(of: change, by: actor, context: context)
            #expect(violations.isEmpty, "\(replay): \(violations)")
        }
        // The property must not hold vacuously: every outcome occurs.
        #expect((counts["accept"] ?? 0) > Self.iterations / 20, "seed \(seed): \(counts)")
        #expect((counts["needs_approval"] ?? 0) > Self.iterations / 200, "seed \(seed): \(counts)")
        #expect((counts["reject"] ?? 0) > Self.iterations / 20, "seed \(seed): \(counts)")
    }
}

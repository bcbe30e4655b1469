import Foundation
import TherapyModel

/// The exponential insulin model written down plainly in `Double`, as LoopKit has it
/// (`ExponentialInsulinModel`, Loop issue 388): the reference the integer model is held to.
struct ExponentialInsulinReference {
    let actionDuration: Double
    let peak: Double
    let delay: Double

    init(actionDurationMinutes: Int, peakMinutes: Int, delayMinutes: Int) {
        actionDuration = Double(actionDurationMinutes)
        peak = Double(peakMinutes)
        delay = Double(delayMinutes)
    }

    init(_ model: InsulinModel) {
        self.init(
            actionDurationMinutes: model.actionDurationMinutes,
            peakMinutes: model.peakMinutes,
            delayMinutes: model.delayMinutes
        )
    }

    /// The fraction still to act `minutes` after delivery (0 … 1).
    func remaining(afterMinutes minutes: Double) -> Double {
        let t = minutes - delay
        let td = actionDuration
        let tp = peak
        guard t > 0 else { return 1 }
        guard t < td else { return 0 }
        let tau = tp * (1 - tp / td) / (1 - 2 * tp / td)
        let a = 2 * tau / td
        let s = 1 / (1 - a + (1 + a) * exp(-td / tau))
        return 1 - s * (1 - a) * ((t * t / (tau * td * (1 - a)) - t / tau - 1) * exp(-t / tau) + 1)
    }

    /// `remaining` in parts per million, rounded to nearest.
    func partsPerMillion(afterMinutes minutes: Int) -> Int {
        Int((remaining(afterMinutes: Double(minutes)) * 1_000_000).rounded())
    }

    /// Insulin on board in milliunits, unrounded, read the way `InsulinModel.insulinOnBoard`
    /// documents it: an instant delivered `e` ms before `now` counts with the fraction at
    /// ⌊e / 1 min⌋ (fully when in the future); a segment spreads its amount evenly over
    /// `[start, end)`. Every minute a segment touches is visited, with no shortcuts.
    func insulinOnBoard(_ deliveries: [InsulinDelivery], at now: Timestamp) -> Double {
        let minute = 60_000.0
        let nowMilliseconds = Double(now.millisecondsSinceEpoch)
        var total = 0.0
        for delivery in deliveries {
            let start = Double(delivery.start.millisecondsSinceEpoch)
            let end = Double(delivery.end.millisecondsSinceEpoch)
            let amount = Double(delivery.amount.rawValue)
            guard end > start else {
                total += amount * remaining(afterMinutes: ((nowMilliseconds - start) / minute).rounded(.down))
                continue
            }
            let firstMinute = Int(((nowMilliseconds - end) / minute).rounded(.down))
            let lastMinute = Int(((nowMilliseconds - start) / minute).rounded(.down))
            for elapsed in firstMinute...lastMinute {
                // Instants (now − (elapsed + 1) min, now − elapsed min] are `elapsed` minutes old.
                let low = max(start, nowMilliseconds - Double(elapsed + 1) * minute)
                let high = min(end, nowMilliseconds - Double(elapsed) * minute)
                guard high > low else { continue }
                total += amount * (high - low) / (end - start) * remaining(afterMinutes: Double(elapsed))
            }
        }
        return total
    }
}

/// SplitMix64: a small seeded generator, so property tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

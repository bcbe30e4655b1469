import Foundation

/// A deterministic random number generator (SplitMix64), so a failing property test
/// can be replayed: the seed is printed with every failure. Set
/// `THERAPY_PROPERTY_SEED` to replay or explore another seed.
struct SeededGenerator: RandomNumberGenerator {
    static let defaultSeed: UInt64 = 0x4D45_4454_554E_4E45

    static var seedFromEnvironment: UInt64 {
        ProcessInfo.processInfo.environment["THERAPY_PROPERTY_SEED"].flatMap { UInt64($0) } ?? defaultSeed
    }

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

    mutating func int(_ range: ClosedRange<Int64>) -> Int64 {
        Int64.random(in: range, using: &self)
    }

    mutating func chance(_ percent: Int) -> Bool {
        Int.random(in: 0..<100, using: &self) < percent
    }

    mutating func pick<T>(_ values: [T]) -> T {
        values[Int.random(in: 0..<values.count, using: &self)]
    }

    /// Mostly multiples of `step` inside `range`, sometimes off the grid, sometimes absurd.
    mutating func amount(step: Int64, in range: ClosedRange<Int64>) -> Int64 {
        switch Int.random(in: 0..<100, using: &self) {
        case 0..<70: return int(range.lowerBound / step...range.upperBound / step) * step
        case 70..<82: return int(range) | 1  // off any even step
        case 82..<88: return pick([0, -step, -1])
        case 88..<94: return pick([Int64.max, Int64.min, 1 << 62, Int64.max - 1])
        default: return int((range.upperBound / step)...(range.upperBound / step) * 3) * step
        }
    }
}

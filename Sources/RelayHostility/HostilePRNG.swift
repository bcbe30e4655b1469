/// A small deterministic generator (SplitMix64): the same seed gives the same choices, so a
/// hostile run can be repeated exactly. Not for cryptography.
public struct HostilePRNG: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    /// The generator for one link and direction: independent of how links interleave.
    init(seed: UInt64, link: Int, direction: HostileDirection) {
        var mixer = HostilePRNG(seed: seed ^ (UInt64(truncatingIfNeeded: link) &* 0x9E37_79B9_7F4A_7C15))
        if direction == .down { _ = mixer.next() }
        self.init(seed: mixer.next())
    }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `rate` (0…1).
    mutating func chance(_ rate: Double) -> Bool {
        if rate >= 1 { return true }
        if rate <= 0 { return false }
        return Double(self.next() >> 11) / Double(UInt64(1) << 53) < rate
    }
}

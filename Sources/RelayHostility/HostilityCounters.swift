import Synchronization

/// How often each behaviour acted, for tests and the log. Counts only, never bytes.
public final class HostilityCounters: Sendable {
    private let counts = Mutex<[HostileBehaviour: Int]>([:])

    public init() {}

    /// Times each behaviour acted (a `replay` counts the streams it opened; a `splice` whose
    /// partner link was gone counts as a `drop`).
    public var snapshot: [HostileBehaviour: Int] { self.counts.withLock { $0 } }

    public subscript(_ behaviour: HostileBehaviour) -> Int { self.counts.withLock { $0[behaviour] ?? 0 } }

    func add(_ behaviour: HostileBehaviour) { self.counts.withLock { $0[behaviour, default: 0] += 1 } }
}

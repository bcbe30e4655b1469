/// How long the relay waits before reconnecting its uplink: exponential from ``initial`` to
/// ``maximum``, reset by a connection that the gateway accepted. Pure, so tests can step it.
public struct RelayBackoff: Sendable, Equatable {
    public let initial: Duration
    public let maximum: Duration
    public private(set) var next: Duration

    public init(initial: Duration = .milliseconds(200), maximum: Duration = .seconds(30)) {
        precondition(initial > .zero && maximum >= initial, "backoff \(initial)...\(maximum)")
        self.initial = initial
        self.maximum = maximum
        self.next = initial
    }

    /// The uplink failed or was lost: returns how long to wait, and doubles the next wait.
    public mutating func failed() -> Duration {
        let delay = self.next
        self.next = min(self.next * 2, self.maximum)
        return delay
    }

    /// The gateway accepted the phone again.
    public mutating func connected() { self.next = self.initial }
}

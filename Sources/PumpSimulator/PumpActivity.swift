import Synchronization

/// What a set of simulated pumps is doing right now, for a progress line: counts only.
public final class PumpActivity: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// Sessions established and not yet ended.
        public var connected = 0
        public var sessions = 0
        public var resumedSessions = 0
        public var telemetryAcknowledged = 0
        /// Sessions that ended before their work was done and were started again.
        public var reconnects = 0
        /// Connection attempts that failed (refused, TLS failure, link lost in the handshake).
        public var failedAttempts = 0
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { self.state.withLock { $0 } }

    func established(resumed: Bool) {
        self.state.withLock {
            $0.connected += 1
            $0.sessions += 1
            if resumed { $0.resumedSessions += 1 }
        }
    }
    func ended() { self.state.withLock { $0.connected -= 1 } }
    func acknowledged() { self.state.withLock { $0.telemetryAcknowledged += 1 } }
    func reconnecting() { self.state.withLock { $0.reconnects += 1 } }
    func attemptFailed() { self.state.withLock { $0.failedAttempts += 1 } }
}

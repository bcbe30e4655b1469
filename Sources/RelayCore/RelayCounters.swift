import Synchronization

/// Why the relay dropped a pump link (it never drops bytes inside a link: a TLS stream with a
/// hole is worthless, so the whole link goes).
public struct RelayDropReason: Hashable, Sendable, CustomStringConvertible {
    private enum Base: String, Hashable, Sendable {
        case uplinkDown = "uplink_down"
        case streamRefused = "stream_refused"
        case bufferFull = "buffer_full"
        case streamError = "stream_error"
    }
    private let base: Base
    private init(_ base: Base) { self.base = base }

    /// A pump link arrived while the relay had no uplink to the gateway.
    public static let uplinkDown = RelayDropReason(.uplinkDown)
    /// The uplink would not open a stream for the link (too many links, uplink closing).
    public static let streamRefused = RelayDropReason(.streamRefused)
    /// One direction of the link exceeded ``RelayLimits/maximumQueuedBytes``.
    public static let bufferFull = RelayDropReason(.bufferFull)
    /// The stream ended with an error (refused by the gateway, a frame out of place, reset).
    public static let streamError = RelayDropReason(.streamError)

    public var description: String { self.base.rawValue }
}

/// What the relay did, in numbers: links, bytes each way, drops by reason. Byte counts only:
/// the relay never records what the bytes are.
public final class RelayCounters: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var linksAccepted = 0
        public var linksOpen = 0
        public var bytesFromPumps = 0
        public var bytesToPumps = 0
        /// Bytes a pump sent after its stream had ended (read and dropped while its link was
        /// finishing).
        public var bytesDiscarded = 0
        public var drops: [RelayDropReason: Int] = [:]
        /// The most bytes ever queued for one link in one direction (bounded by
        /// ``RelayLimits/maximumQueuedBytes``).
        public var largestQueuedBytes = 0
        /// Uplinks the gateway accepted, and uplinks lost after that.
        public var uplinkConnects = 0
        public var uplinkLosses = 0
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { self.state.withLock { $0 } }

    func linkOpened() {
        self.state.withLock {
            $0.linksAccepted += 1
            $0.linksOpen += 1
        }
    }
    func linkClosed() { self.state.withLock { $0.linksOpen -= 1 } }
    func fromPump(_ count: Int) { self.state.withLock { $0.bytesFromPumps += count } }
    func toPump(_ count: Int) { self.state.withLock { $0.bytesToPumps += count } }
    func discarded(_ count: Int) { self.state.withLock { $0.bytesDiscarded += count } }
    func queued(_ count: Int) {
        self.state.withLock { $0.largestQueuedBytes = Swift.max($0.largestQueuedBytes, count) }
    }
    func uplinkConnected() { self.state.withLock { $0.uplinkConnects += 1 } }
    func uplinkLost() { self.state.withLock { $0.uplinkLosses += 1 } }
    func drop(_ reason: RelayDropReason) { self.state.withLock { $0.drops[reason, default: 0] += 1 } }
}

import Synchronization
public import TelemetryStore
public import TunnelProtocol

/// A session that a newer session of the same pump replaced.
public struct ReplacedSession: Sendable {
    /// The replaced session's number for its pump.
    public let number: Int
    /// How the replaced session's bytes came.
    public let carrier: String?
    /// Ends the replaced session (close_notify, then the channel closes).
    public let close: @Sendable () -> Void
}

/// What ``PumpRegistry/startSession(serial:resumed:now:carrier:close:)`` did.
public struct SessionStart: Sendable {
    /// The new session's number for its pump (``PumpRegistry/sessionEnded(serial:session:now:)`` takes it).
    public let number: Int
    /// The live session this one replaced, which the caller must close.
    public let replaced: ReplacedSession?
}

/// What ``PumpRegistry/acceptTelemetry(serial:_:now:durable:)`` did with a message.
public enum TelemetryAcceptance: Sendable, Equatable {
    /// New: queued for the store (acknowledge it when `durable` reports success).
    case stored
    /// A sequence at or below the newest stored one (a replay, or a resend after a lost
    /// acknowledgement): nothing changes; `durable` runs once what was queued before is durable.
    case duplicate
    /// No session of this pump was ever started.
    case unknownPump
    /// The store did not take it (queue full, store failed or closing); nothing changed.
    case refused(TelemetryStoreError)
}

/// The connected pumps and what they last said. Called from event loops, so it is a
/// lock-protected class with short critical sections rather than an actor.
///
/// With a ``TelemetryStore`` it starts from what the store holds (every pump it has seen,
/// its newest telemetry) and writes every change through it: pump rows as snapshots,
/// telemetry once per (serial, sequence). Without one it keeps everything in memory.
public final class PumpRegistry: Sendable {
    private struct LiveSession {
        let number: Int
        let carrier: String?
        let close: @Sendable () -> Void
    }
    private struct State {
        var pumps: [String: PumpStatus] = [:]
        /// The one live session per pump, with the means to end it.
        var live: [String: LiveSession] = [:]
        var events: [SecurityEvent] = []
    }
    private let state: Mutex<State>
    public let store: TelemetryStore?
    public let metrics: GatewayMetrics
    /// Security events kept in memory (the audit log keeps them for good).
    public static let maximumEvents = 1_000

    public init(store: TelemetryStore? = nil, metrics: GatewayMetrics = GatewayMetrics()) {
        self.store = store
        self.metrics = metrics
        var state = State()
        for stored in store?.initialPumps ?? [] {
            let pump = stored.pump
            let received = stored.latestTelemetry?.receivedMilliseconds
            state.pumps[pump.serial] = PumpStatus(
                serial: pump.serial,
                connected: false,
                firmware: pump.firmware,
                lastSeenMilliseconds: max(pump.lastSeenMilliseconds, received ?? .min),
                sessions: pump.sessions,
                resumedSessions: pump.resumedSessions,
                lastTelemetry: stored.latestTelemetry?.telemetry,
                telemetryStored: stored.telemetryCount,
                carrier: pump.carrier,
                lastTelemetryReceivedMilliseconds: received
            )
        }
        self.state = Mutex(state)
    }

    /// Records a new session and returns its number for this pump, which ``sessionEnded``
    /// takes: a session that ends after a newer one started must not mark the pump gone.
    @discardableResult
    public func sessionStarted(serial: String, resumed: Bool, now: Int64, carrier: String? = nil) -> Int {
        self.startSession(serial: serial, resumed: resumed, now: now, carrier: carrier, close: {}).number
    }

    /// Records a new live session of `serial`, which `close` ends. A live session of the same
    /// pump is replaced: it is returned, and the caller closes it (outside any lock) and
    /// records the event. One pump has one live session.
    public func startSession(
        serial: String,
        resumed: Bool,
        now: Int64,
        carrier: String?,
        close: @escaping @Sendable () -> Void
    ) -> SessionStart {
        self.metrics.sessionStarted(resumed: resumed)
        return self.state.withLock { state in
            var pump =
                state.pumps[serial]
                ?? PumpStatus(
                    serial: serial,
                    connected: false,
                    firmware: nil,
                    lastSeenMilliseconds: now,
                    sessions: 0,
                    resumedSessions: 0,
                    lastTelemetry: nil,
                    telemetryStored: 0
                )
            pump.connected = true
            pump.carrier = carrier
            pump.sessions += 1
            if resumed { pump.resumedSessions += 1 }
            pump.lastSeenMilliseconds = now
            state.pumps[serial] = pump
            self.persist(pump)
            let replaced = state.live[serial].map {
                ReplacedSession(number: $0.number, carrier: $0.carrier, close: $0.close)
            }
            state.live[serial] = LiveSession(number: pump.sessions, carrier: carrier, close: close)
            return SessionStart(number: pump.sessions, replaced: replaced)
        }
    }

    public func hello(serial: String, firmware: String, now: Int64) {
        self.state.withLock { state in
            guard var pump = state.pumps[serial] else { return }
            pump.firmware = firmware
            pump.lastSeenMilliseconds = now
            state.pumps[serial] = pump
            self.persist(pump)
        }
    }

    /// Stores telemetry once per sequence number. Returns false for a duplicate or an older
    /// sequence (a replay, or a resend after a lost acknowledgement), an unknown pump, or
    /// a refusal by the store.
    public func storeTelemetry(serial: String, _ telemetry: InnerMessage.Telemetry, now: Int64) -> Bool {
        self.acceptTelemetry(serial: serial, telemetry, now: now, carrier: nil, durable: { _ in }) == .stored
    }

    /// Takes one telemetry message of `serial`: stores it once per sequence number (in
    /// memory at once, in the store through its writer). `durable` runs when the message
    /// (or, for a duplicate, everything queued before it) is on disk, on the store's writer
    /// thread; without a store, before this returns. It does not run for `unknownPump` or
    /// `refused`.
    public func acceptTelemetry(
        serial: String,
        _ telemetry: InnerMessage.Telemetry,
        now: Int64,
        carrier: String?,
        durable: @escaping @Sendable (Result<Void, TelemetryStoreError>) -> Void
    ) -> TelemetryAcceptance {
        let outcome: TelemetryAcceptance = self.state.withLock { state in
            guard var pump = state.pumps[serial] else { return .unknownPump }
            let duplicate = pump.lastTelemetry.map { telemetry.sequence <= $0.sequence } ?? false
            if let store = self.store {
                do throws(TelemetryStoreError) {
                    let write: TelemetryWrite =
                        duplicate
                        ? .barrier
                        : .telemetry(
                            TelemetryRecord(
                                serial: serial,
                                telemetry: telemetry,
                                receivedMilliseconds: now,
                                carrier: carrier
                            )
                        )
                    try store.submit(write, completion: durable)
                } catch {
                    return .refused(error)
                }
            }
            pump.lastSeenMilliseconds = now
            if !duplicate {
                pump.lastTelemetry = telemetry
                pump.lastTelemetryReceivedMilliseconds = now
                pump.telemetryStored += 1
            }
            state.pumps[serial] = pump
            return duplicate ? .duplicate : .stored
        }
        switch outcome {
        case .stored:
            self.metrics.telemetryStored()
            if self.store == nil { durable(.success(())) }
        case .duplicate:
            if self.store == nil { durable(.success(())) }
        case .refused(let error):
            self.metrics.telemetryRefused(reason: "\(error.code)")
        case .unknownPump:
            break
        }
        return outcome
    }

    /// Ends session number `session` of the pump; the pump stays connected if a newer
    /// session has replaced this one.
    public func sessionEnded(serial: String, session: Int, now: Int64) {
        self.state.withLock { state in
            if state.live[serial]?.number == session { state.live[serial] = nil }
            guard var pump = state.pumps[serial], pump.sessions == session else { return }
            pump.connected = false
            pump.lastSeenMilliseconds = now
            state.pumps[serial] = pump
            self.persist(pump)
        }
    }

    /// Told of every security event recorded with `forward` (the gateway's durable recorder).
    private let sink = Mutex<(@Sendable (SecurityEvent) -> Void)?>(nil)

    /// `sink` is told of every event recorded from now on (replaces any earlier one).
    public func forwardEvents(to sink: @escaping @Sendable (SecurityEvent) -> Void) {
        self.sink.withLock { $0 = sink }
    }

    /// Keeps `event` (in memory, in the metrics) and, with `forward`, tells the sink (which
    /// writes it to the audit log); events already audited elsewhere pass `forward: false`.
    public func record(_ event: SecurityEvent, forward: Bool = true) {
        if forward, let sink = self.sink.withLock({ $0 }) { sink(event) }
        self.metrics.record(event)
        self.state.withLock { state in
            state.events.append(event)
            if state.events.count > Self.maximumEvents {
                state.events.removeFirst(state.events.count - Self.maximumEvents)
            }
        }
    }

    /// Closes the live session of `serial` (a revoked pump); returns whether there was one.
    @discardableResult
    public func closeSession(serial: String) -> Bool {
        let close = self.state.withLock { $0.live[serial]?.close }
        close?()
        return close != nil
    }

    /// Serials with a live session.
    public var liveSerials: [String] { self.state.withLock { Array($0.live.keys) } }

    /// Closes every live session (graceful shutdown); returns how many there were.
    @discardableResult
    public func closeAllSessions() -> Int {
        let closers = self.state.withLock { state in state.live.values.map(\.close) }
        for close in closers { close() }
        return closers.count
    }

    /// Live sessions (one per connected pump).
    public var liveSessionCount: Int { self.state.withLock { $0.live.count } }

    public func pump(_ serial: String) -> PumpStatus? { self.state.withLock { $0.pumps[serial] } }
    public var pumps: [PumpStatus] { self.state.withLock { $0.pumps.values.sorted { $0.serial < $1.serial } } }
    public var events: [SecurityEvent] { self.state.withLock { $0.events } }

    /// Queues the pump's row; called under the lock so snapshots reach the store in order.
    /// A full queue loses this snapshot only (the next one carries the same fields).
    private func persist(_ pump: PumpStatus) {
        guard let store = self.store else { return }
        do throws(TelemetryStoreError) {
            try store.submit(
                .pump(
                    PumpRecord(
                        serial: pump.serial,
                        firmware: pump.firmware,
                        lastSeenMilliseconds: pump.lastSeenMilliseconds,
                        carrier: pump.carrier,
                        sessions: pump.sessions,
                        resumedSessions: pump.resumedSessions
                    )
                )
            )
        } catch {
            self.metrics.telemetryRefused(reason: "\(error.code)")
        }
    }
}

public import NIOCore
import Synchronization

/// Many simulated pumps in one process, sharing one event loop group: each holds its own
/// mbedTLS session, sends telemetry every interval, and when its link drops reconnects with
/// backoff (jittered, so a lost relay does not bring every pump back at the same instant),
/// resuming its TLS session and continuing at the first telemetry the gateway has not
/// acknowledged. At most ``Configuration/concurrentHandshakes`` handshakes run at once.
///
/// Memory is bounded by the pumps: each holds one TLS engine (capped buffers) while it is
/// connected, and nothing grows with the telemetry sent.
public struct PumpFleet: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Telemetry per pump over all its sessions; nil for no end.
        public var telemetryPerPump: Int?
        public var intervalMilliseconds: Int64
        /// A message the gateway does not answer in this time is sent again once, then the
        /// session is given up (and reconnected).
        public var responseTimeoutMilliseconds: Int64 = 5_000
        public var initialBackoff: Duration = .milliseconds(250)
        public var maximumBackoff: Duration = .seconds(10)
        public var concurrentHandshakes = 32

        public init(host: String, port: Int, telemetryPerPump: Int?, intervalMilliseconds: Int64) {
            self.host = host
            self.port = port
            self.telemetryPerPump = telemetryPerPump
            self.intervalMilliseconds = intervalMilliseconds
        }
    }

    /// Something that happened to one pump, for the caller to print.
    public enum Event: Sendable {
        /// A session is up; `reconnect` when an earlier one of this pump was lost.
        case connected(serial: String, resumed: Bool, reconnect: Bool, nextSequence: UInt64)
        /// A session or an attempt failed; the pump tries again after `retryIn`.
        case lost(serial: String, error: String, telemetryAcknowledged: Int, retryIn: Duration)
        /// The pump sent all its telemetry and closed its session.
        case finished(serial: String, telemetryAcknowledged: Int)
    }

    public let pumps: [SimulatedPump]
    public let configuration: Configuration

    public init(pumps: [SimulatedPump], configuration: Configuration) {
        self.pumps = pumps
        self.configuration = configuration
    }

    /// The serials `PREFIX-0001`…, at least four digits.
    public static func serials(prefix: String, count: Int) -> [String] {
        let width = max(4, String(count).count)
        return (1...max(1, count)).map { number in
            let digits = String(number)
            return "\(prefix)-\(String(repeating: "0", count: width - digits.count))\(digits)"
        }
    }

    /// Runs every pump until it has sent its telemetry (or for ever), reporting to `events`.
    public func run(group: any EventLoopGroup, events: @escaping @Sendable (Event) -> Void) async {
        let gate = HandshakeGate(slots: self.configuration.concurrentHandshakes)
        await withDiscardingTaskGroup { tasks in
            for (index, pump) in self.pumps.enumerated() {
                tasks.addTask {
                    await self.keep(pump, seed: UInt64(index + 1), gate: gate, group: group, events: events)
                }
            }
        }
    }

    private func keep(
        _ pump: SimulatedPump,
        seed: UInt64,
        gate: HandshakeGate,
        group: any EventLoopGroup,
        events: @escaping @Sendable (Event) -> Void
    ) async {
        let configuration = self.configuration
        let first = (pump.lastAcknowledgedSequence ?? 0) + 1
        var backoff = configuration.initialBackoff
        var jitter = seed &* 0x9E37_79B9_7F4A_7C15
        var lostBefore = false
        while !Task.isCancelled {
            let next = (pump.lastAcknowledgedSequence ?? first - 1) + 1
            let sent = Int(next - first)
            let remaining = configuration.telemetryPerPump.map { $0 - sent } ?? Int.max
            guard remaining > 0 else { break }
            await gate.acquire()
            let slot = SlotRelease(gate)
            let reconnect = lostBefore
            do {
                let report = try await pump.runSession(
                    host: configuration.host,
                    port: configuration.port,
                    telemetryCount: remaining,
                    intervalMilliseconds: configuration.intervalMilliseconds,
                    firstTelemetrySequence: next,
                    responseTimeoutMilliseconds: configuration.responseTimeoutMilliseconds,
                    group: group
                ) { resumed in
                    slot.release(established: true)
                    events(.connected(serial: pump.serial, resumed: resumed, reconnect: reconnect, nextSequence: next))
                }
                slot.release()
                if Task.isCancelled { break }
                events(
                    .finished(
                        serial: pump.serial,
                        telemetryAcknowledged: Int(next - first) + report.telemetryAcknowledged
                    )
                )
                backoff = configuration.initialBackoff
                if report.telemetryAcknowledged >= remaining { break }
            } catch {
                slot.release()
                if Task.isCancelled { break }
                lostBefore = true
                if slot.wasEstablished {
                    backoff = configuration.initialBackoff
                    pump.activity?.reconnecting()
                } else {
                    pump.activity?.attemptFailed()
                }
                // Wait between half and all of the backoff, then double it.
                jitter = jitter &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let fraction = Double(jitter >> 11) / Double(UInt64(1) << 53)
                let wait = backoff * (0.5 + fraction / 2)
                events(
                    .lost(
                        serial: pump.serial,
                        error: "\(error)",
                        telemetryAcknowledged: Int((pump.lastAcknowledgedSequence ?? first - 1) + 1 - first),
                        retryIn: wait
                    )
                )
                try? await Task.sleep(for: wait)
                backoff = min(backoff * 2, configuration.maximumBackoff)
            }
        }
    }
}

/// Lets at most `slots` handshakes run at once.
final class HandshakeGate: Sendable {
    private let state: Mutex<(available: Int, waiting: [CheckedContinuation<Void, Never>])>

    init(slots: Int) {
        self.state = Mutex((max(1, slots), []))
    }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = self.state.withLock { state in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func release() {
        let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}

/// One attempt's hold on a gate slot: given back once, when the handshake is done or the
/// attempt ends, whichever comes first.
final class SlotRelease: Sendable {
    private let gate: HandshakeGate
    private let released = Mutex<(released: Bool, established: Bool)>((false, false))

    init(_ gate: HandshakeGate) {
        self.gate = gate
    }

    var wasEstablished: Bool { self.released.withLock { $0.established } }

    /// Called with `established` by the handshake callback.
    func release(established: Bool = false) {
        let first = self.released.withLock { state in
            state.established = state.established || established
            defer { state.released = true }
            return !state.released
        }
        if first { self.gate.release() }
    }
}

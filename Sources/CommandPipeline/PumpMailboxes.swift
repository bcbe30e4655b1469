import Synchronization
import TunnelProtocol

/// Something for one pump's worker to do, in arrival order.
enum PumpEvent: Sendable {
    case connected(PumpLink, InnerMessage.Hello, PumpSessionChannel)
    case acknowledgement(PumpLink, SignedAcknowledgement)
    case malformedAcknowledgement(PumpLink, String)
    case disconnected(PumpLink)
    /// An API operation (submit, approve, cancel, set therapy) run in the pump's order.
    case job(PumpJob)
}

/// An operation queued for a pump's worker: `run` does it and answers its caller; `abandon`
/// answers the caller when the pipeline stopped before the job could run.
struct PumpJob: Sendable {
    let run: @Sendable () async -> Void
    let abandon: @Sendable () -> Void
}

/// One mailbox per pump, so that everything about one pump happens in one order and one at a
/// time (hello, acknowledgement, disconnect, a submission, a delivery), while different pumps
/// proceed in parallel (their audit appends share the log's group commit).
///
/// `post` appends an event; if no worker holds the pump, it asks `run()` (through `starts`) to
/// start one. A worker `take`s events until the mailbox is empty, and in the same locked step
/// gives the pump up, so an event is never left behind without a worker.
final class PumpMailboxes: Sendable {
    private struct Mailbox {
        var events: [PumpEvent] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private struct State {
        var boxes: [String: Mailbox] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    let starts: AsyncStream<String>
    private let startContinuation: AsyncStream<String>.Continuation

    init() {
        (self.starts, self.startContinuation) = AsyncStream.makeStream(of: String.self)
    }

    /// Queues `event` for `serial`'s worker. After `close()`, a job is abandoned at once and
    /// any other event is dropped (the pipeline is stopping; sessions end with it).
    func post(_ event: PumpEvent, to serial: String) {
        let start: Bool? = self.state.withLock { state in
            guard !state.closed else { return nil }
            if state.boxes[serial] != nil {
                state.boxes[serial]!.events.append(event)
                return false
            }
            state.boxes[serial] = Mailbox(events: [event])
            return true
        }
        switch start {
        case nil:
            if case .job(let job) = event { job.abandon() }
        case true?:
            if case .terminated = self.startContinuation.yield(serial) { self.abandon(serial) }
        case false?:
            break
        }
    }

    /// The next event for the worker of `serial`; nil when there is none, and then the worker
    /// has given the pump up (and anyone waiting for the pump to be idle is released).
    func take(_ serial: String) -> PumpEvent? {
        let (event, waiters): (PumpEvent?, [CheckedContinuation<Void, Never>]) = self.state.withLock { state in
            guard var box = state.boxes[serial] else { return (nil, []) }
            if box.events.isEmpty {
                state.boxes[serial] = nil
                return (nil, box.waiters)
            }
            let event = box.events.removeFirst()
            state.boxes[serial] = box
            return (event, [])
        }
        for waiter in waiters { waiter.resume() }
        return event
    }

    /// Returns once `serial` has no worker and nothing queued.
    func waitUntilIdle(_ serial: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let busy = self.state.withLock { state in
                guard state.boxes[serial] != nil else { return false }
                state.boxes[serial]!.waiters.append(continuation)
                return true
            }
            if !busy { continuation.resume() }
        }
    }

    /// Stops taking events: queued jobs are abandoned, other events dropped, waiters released.
    func close() {
        self.startContinuation.finish()
        let boxes = self.state.withLock { state in
            state.closed = true
            defer { state.boxes = [:] }
            return state.boxes
        }
        for box in boxes.values {
            for case .job(let job) in box.events { job.abandon() }
            for waiter in box.waiters { waiter.resume() }
        }
    }

    private func abandon(_ serial: String) {
        let box = self.state.withLock { state in
            defer { state.boxes[serial] = nil }
            return state.boxes[serial]
        }
        for case .job(let job) in box?.events ?? [] { job.abandon() }
        for waiter in box?.waiters ?? [] { waiter.resume() }
    }
}

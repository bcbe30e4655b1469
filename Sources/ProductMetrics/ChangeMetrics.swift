public import ChangeRequests
public import CoreMetrics
import Synchronization
import TherapyModel

/// The change requests' metrics, counted as they move (``ChangeRequestStore/observeSteps(_:)``),
/// never by reading the store at scrape time:
///
/// - `medtunnel_gateway_changes_total{state,kind}`: requests that reached a final state
///   (`applied`, `refused_by_pump`, `expired`, `not_applied`, `cancelled`, `rejected`), by the
///   change's kind (`bolus`, `temp_basal`, …); every pair exists from the start at 0;
/// - `medtunnel_gateway_approvals_waiting`: requests held for a second clinician now (read once at
///   start, then moved by each step into or out of `pending_approval`);
/// - `medtunnel_gateway_change_delivery_seconds`: from the step into `queued` to the pump's
///   acknowledgement (`applied` or `refused_by_pump`, also when settled later from an uncertain
///   send): how long a change takes to reach the pump, queueing while it is offline included.
public final class ChangeMetrics: Sendable {
    public static let changes = "medtunnel.gateway.changes.total"
    public static let approvalsWaiting = "medtunnel.gateway.approvals.waiting"
    public static let deliverySeconds = "medtunnel.gateway.change.delivery.seconds"
    /// The delivery histogram's buckets: a change to a connected pump takes well under a second,
    /// one queued for an offline pump minutes to hours (its lifetime).
    public static let deliveryBuckets: [Duration] = [
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
        .seconds(900), .seconds(3600),
    ]

    /// The final states, by their stable names.
    public static let finalStates = ChangeRequestState.allNamed.filter(\.isTerminal).map(\.name)

    private let factory: any MetricsFactory
    private let waiting: Gauge
    private let waitingCount = Mutex(0)
    private let delivery: CoreMetrics.Timer

    public init(factory: any MetricsFactory) {
        self.factory = factory
        self.waiting = Gauge(label: Self.approvalsWaiting, factory: factory)
        self.waiting.record(0)
        self.delivery = CoreMetrics.Timer(label: Self.deliverySeconds, factory: factory)
        for state in Self.finalStates {
            for kind in ControlKind.allCases {
                _ = Counter(
                    label: Self.changes,
                    dimensions: [("state", state), ("kind", kind.rawValue)],
                    factory: factory
                )
            }
        }
    }

    /// Starts counting `store`'s steps (call once, before the gateway serves).
    public func observe(_ store: ChangeRequestStore) async throws {
        let waitingNow = try await store.observeSteps { [self] request, transitions in
            self.record(request, transitions)
        }
        // Added, not set: steps observed between the count and now have moved it already.
        self.moveWaiting(by: waitingNow)
    }

    /// One committed step of `request`: the transitions it added.
    func record(_ request: ChangeRequest, _ transitions: [ChangeTransition]) {
        var waitingDelta = 0
        for transition in transitions {
            if transition.to == .pendingApproval { waitingDelta += 1 }
            if transition.from == .pendingApproval { waitingDelta -= 1 }
            if transition.to.isTerminal {
                Counter(
                    label: Self.changes,
                    dimensions: [("state", transition.to.name), ("kind", request.change.kind.rawValue)],
                    factory: self.factory
                ).increment()
            }
            switch transition.to {
            case .applied, .refusedByPump:
                guard let queued = request.history.last(where: { $0.to == .queued }) else { break }
                let milliseconds = transition.at.millisecondsSinceEpoch - queued.at.millisecondsSinceEpoch
                self.delivery.recordMilliseconds(max(0, milliseconds))
            default:
                break
            }
        }
        if waitingDelta != 0 { self.moveWaiting(by: waitingDelta) }
    }

    private func moveWaiting(by delta: Int) {
        let now = self.waitingCount.withLock { count in
            count += delta
            return count
        }
        self.waiting.record(now)
    }
}

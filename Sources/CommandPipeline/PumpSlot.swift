import ChangeRequests
import CommandAuthority
import Lockouts
import TherapyModel
import TunnelProtocol

/// What the gateway holds in memory for one pump. Only the pump's worker changes it (the
/// sweep runs as a job on the pipeline actor too), so it needs no lock of its own; everything in
/// it can be rebuilt from the stores and the pump's next hello.
final class PumpSlot {
    struct Session: Equatable {
        let link: PumpLink
        let channel: PumpSessionChannel
        let verifier: AcknowledgementVerifier
        /// How the session's bytes came: `phone ID` or `direct ADDRESS`.
        let carrier: String

        static func == (lhs: Session, rhs: Session) -> Bool { lhs.link == rhs.link }
    }

    struct Expected {
        /// The therapy version whose baseline these settings start from.
        let version: Int64
        var settings: TherapySettings
    }

    typealias InFlightCommand = PumpDeliveryStateMachine<Session, SignedCommand>.InFlight

    /// Session, command in flight, lockout order: ``PumpDeliveryStateMachine``.
    var delivery = PumpDeliveryStateMachine<Session, SignedCommand>()
    /// Cached `PumpLedger.expectedSettings` for the current therapy version.
    var expected: Expected?
    /// The settings digest and mode the pump last reported (hello or acknowledgement).
    var reportedDigest: [UInt8]?
    private(set) var reportedMode: PumpMode = []
    /// When the pump last reported its mode (nil before its first hello here).
    private(set) var reportedModeAt: Timestamp?

    func noteMode(_ mode: PumpMode, at time: Timestamp) {
        reportedMode = mode
        reportedModeAt = time
    }
    /// The model and firmware of the pump's last hello.
    var model: String?
    var firmware: String?
    /// When the pump's hello last arrived and the last applied sequence it reported.
    var lastAppliedSequence: UInt64?
    /// The hello of the current session: what settles a command made uncertain after it, by a
    /// node whose session with the pump ended late (several nodes on one database).
    var hello: InnerMessage.Hello?
    /// When the last lockout command was sent and when the pump last acknowledged one.
    /// The lease epochs (node, pump) under which the fence last let a send through, and whether
    /// this node ended the session itself to hand the pump to another node: a session that ends
    /// after either changed was not cut by the phone that carried it.
    var sentUnder: (nodeEpoch: Int64, epoch: Int64)?
    var handedOver = false
    var lockoutSentAt: Int64?
    var lockoutAcknowledgedAt: Int64?

    /// Set when the pump's digest differs from the expected settings: why deliveries and new
    /// changes are held.
    var divergence: String? {
        get { delivery.held }
        set { delivery.held = newValue }
    }
}

@available(*, unavailable)
extension PumpSlot: Sendable {}

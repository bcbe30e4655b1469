import ChangeRequests
import CommandAuthority
import TherapyModel
import TunnelProtocol

/// What the gateway holds in memory for one pump. Only the pump's worker changes it (the
/// sweep reads it and may mark the command in flight as closing), so it needs no lock of its
/// own beyond the pipeline actor; everything in it can be rebuilt from the store and the pump's
/// next hello.
final class PumpSlot {
    struct Session {
        let link: PumpLink
        let channel: PumpSessionChannel
        let verifier: AcknowledgementVerifier
    }

    struct InFlight {
        let requestID: ChangeRequestID
        let command: SignedCommand
        let sentAt: Timestamp
        /// The sweep ended the session for want of an acknowledgement.
        var closing = false
    }

    struct Expected {
        /// The therapy version whose baseline these settings start from.
        let version: Int64
        var settings: TherapySettings
    }

    var session: Session?
    var inFlight: InFlight?
    /// Cached `PumpLedger.expectedSettings` for the current therapy version.
    var expected: Expected?
    /// The settings digest and mode the pump last reported (hello or acknowledgement).
    var reportedDigest: [UInt8]?
    var reportedMode: PumpMode = []
    /// Set when the pump's digest differs from the expected settings: why deliveries and new
    /// changes are held.
    var divergence: String?
}

@available(*, unavailable)
extension PumpSlot: Sendable {}

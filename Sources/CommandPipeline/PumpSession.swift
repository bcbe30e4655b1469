public import TunnelProtocol

/// One session of one pump, as the pipeline knows it: the pump's serial (from its verified
/// certificate) and a number the pipeline gave the session when the pump said hello. Events of an
/// older session of the same pump (a late disconnect, a late acknowledgement) are told apart
/// by the number.
public struct PumpLink: Sendable, Hashable, CustomStringConvertible {
    public let serial: String
    public let session: UInt64

    public var description: String { "\(serial)#\(session)" }
}

/// How the pipeline reaches a connected pump: `send` writes one whole inner frame (a command)
/// into the session; `close` ends the session (an acknowledgement that never came).
public struct PumpSessionChannel: Sendable {
    public let send: @Sendable ([UInt8]) -> Void
    public let close: @Sendable () -> Void
    /// How the session's bytes come: `phone ID` (through a phone relay) or `direct ADDRESS`.
    public let carrier: String

    public init(
        carrier: String = "direct",
        send: @escaping @Sendable ([UInt8]) -> Void,
        close: @escaping @Sendable () -> Void
    ) {
        self.carrier = carrier
        self.send = send
        self.close = close
    }

    /// The phone id when the session comes through a phone relay.
    public var phone: String? {
        carrier.hasPrefix("phone ") ? String(carrier.dropFirst("phone ".count)) : nil
    }
}

/// What a gateway pump session tells the command pipeline. Every method returns at once (it
/// only queues the event for the pump's worker), so a NIO channel handler may call it on its
/// event loop.
///
/// - `pumpConnected` when the pump's hello arrives on a session whose TLS identity is `serial`;
/// - `acknowledgement` for every acknowledgement frame (0x90) of that session;
/// - `pumpDisconnected` when the session ends, however it ends.
public protocol PumpSessionObserver: Sendable {
    func pumpConnected(serial: String, hello: InnerMessage.Hello, channel: PumpSessionChannel) -> PumpLink
    func acknowledgement(_ signed: SignedAcknowledgement, on link: PumpLink)
    func pumpDisconnected(_ link: PumpLink)
    /// Each telemetry message of the session (the pump's reservoir, glucose, mode), as received.
    func telemetry(_ telemetry: InnerMessage.Telemetry, on link: PumpLink)
    /// The pump is showing a pairing code with this nonce (`InnerMessage.pairingOffer`).
    func pairingOffer(_ offer: InnerMessage.PairingOffer, on link: PumpLink)
}

extension PumpSessionObserver {
    /// Observers that take no pairings ignore offers.
    public func pairingOffer(_ offer: InnerMessage.PairingOffer, on link: PumpLink) {}
}

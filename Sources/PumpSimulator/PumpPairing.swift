public import PumpRuntime
public import TherapyModel
public import TunnelProtocol

/// A simulated pump's pairing code (`--pairing`): made once, at the first `helloAccepted` after
/// the pump starts (the gateway's time sets the simulator's clock), shown through `show`, and
/// offered to the gateway (`InnerMessage.pairingOffer`) on every session while it is unexpired.
///
/// Touched only from the pump's sessions, which run one at a time on an event loop.
public final class PumpPairing: @unchecked Sendable {
    private let makeNonce: @Sendable () -> [UInt8]
    private let show: @Sendable (SignedPairingCode) -> Void
    /// The code this pump shows, once made.
    public private(set) var code: SignedPairingCode?

    /// `makeNonce` gives 16 random bytes (the device's random source); `show` displays the code
    /// (the QR symbol on a screen) when it is made.
    public init(
        makeNonce: @escaping @Sendable () -> [UInt8] = PumpPairing.systemNonce,
        show: @escaping @Sendable (SignedPairingCode) -> Void
    ) {
        self.makeNonce = makeNonce
        self.show = show
    }

    /// 16 bytes from the system's cryptographic random source.
    public static func systemNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<PairingCode.nonceLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// The offer to send on a session whose `helloAccepted` said `gatewayTime`: makes the code
    /// on first use; nil once it has expired (the pump shows a new one when it restarts).
    func offer(runtime: PumpRuntime, gatewayTime: Timestamp) throws -> InnerMessage.PairingOffer? {
        if self.code == nil {
            let code = try runtime.pairingCode(nonce: self.makeNonce(), now: gatewayTime)
            self.code = code
            self.show(code)
        }
        guard let code = self.code, code.content.expiresAt > gatewayTime else { return nil }
        return InnerMessage.PairingOffer(code.content)
    }
}

public import TherapyModel
public import TunnelProtocol

extension PumpRuntime {
    /// A pairing code for this pump, made at `now` by the pump's clock (it expires
    /// `PairingCode.lifetimeMilliseconds` later), signed with the device key. `nonce` is 16
    /// bytes from the device's random source: passed in, as time is, so the firmware chooses
    /// the source and tests can fix it.
    public func pairingCode(nonce: [UInt8], now: Timestamp) throws(TunnelProtocolError) -> SignedPairingCode {
        let code = try PairingCode.make(serial: self.serial, nonce: nonce, now: now)
        return try SignedPairingCode(code, signature: self.deviceKey.sign(PairingCode.signingContext + code.fieldBytes))
    }
}

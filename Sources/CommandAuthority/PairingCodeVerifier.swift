import Crypto
public import TunnelProtocol

/// Checks pairing codes of one pump with the public key of its certificate: the key that signs
/// its acknowledgements signs its codes too (under another signing context, so neither can be
/// passed off as the other).
public struct PairingCodeVerifier: Sendable {
    public let serial: String
    private let key: P256.Signing.PublicKey

    /// The pump's key as the gateway already holds it for acknowledgements (`PumpKeys`).
    public init(_ pumpKey: AcknowledgementVerifier) {
        self.serial = pumpKey.serial
        self.key = pumpKey.key
    }

    /// The code, once it names this pump and its signature verifies. Expiry, freshness and
    /// use are the caller's checks (they take the gateway's clock and state).
    public func verify(_ signed: SignedPairingCode) throws(CommandAuthorityError) -> PairingCode {
        guard signed.content.serial == self.serial else {
            throw CommandAuthorityError(.wrongSerial, "the pairing code names another pump than the certificate")
        }
        let signature: P256.Signing.ECDSASignature
        do {
            signature = try P256.Signing.ECDSASignature(rawRepresentation: signed.signature)
        } catch {
            throw CommandAuthorityError(.badSignature, "the pairing code's signature is not a P-256 r ‖ s")
        }
        guard self.key.isValidSignature(signature, for: signed.signedMessage) else {
            throw CommandAuthorityError(.badSignature, "the pairing code is not signed by pump \(self.serial)")
        }
        return signed.content
    }

    /// What the gateway keeps of a code once used: hex SHA-256 of `serial ‖ 0x00 ‖ nonce`, so
    /// the audit log and the store can tell a replay without holding the nonce itself.
    public static func nonceHash(of code: PairingCode) -> String {
        let digest = SHA256.hash(data: Array(code.serial.utf8) + [0] + code.nonce)
        return digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

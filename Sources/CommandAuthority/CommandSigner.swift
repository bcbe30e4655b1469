import Crypto
public import MedTunnelPKI
public import TunnelProtocol

/// Signs command envelopes with the gateway's command key (`DIR/command.key`): ECDSA P-256
/// over SHA-256 of the envelope's signed message, raw r ‖ s, as `Signed`'s spec says.
public struct CommandSigner: Sendable {
    private let key: P256.Signing.PrivateKey

    /// The public key PEM the pumps pin (`DIR/command.pem`).
    public var publicKeyPEM: String { self.key.publicKey.pemRepresentation }

    public init(privateKeyPEM: String) throws(CommandAuthorityError) {
        do {
            self.key = try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        } catch {
            throw CommandAuthorityError(.invalidKey, "the command key is not a P-256 private key in PEM")
        }
    }

    /// Loads `DIR/command.key`; a PKI without one gets `PKIError.missingFile` naming the fix.
    public static func load(from directory: PKIDirectory) throws -> CommandSigner {
        try CommandSigner(privateKeyPEM: try directory.commandKeyPEM())
    }

    public func sign(_ envelope: CommandEnvelope) throws -> SignedCommand {
        let signature = try self.key.signature(for: CommandEnvelope.signingContext + envelope.fieldBytes)
        return try SignedCommand(envelope, signature: Array(signature.rawRepresentation))
    }
}

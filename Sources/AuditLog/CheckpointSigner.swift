public import Crypto
import Foundation

/// Signs checkpoints as C2SP signed notes with an ECDSA P-256 key (see `NoteVerifier` for why).
public struct CheckpointSigner: Sendable {
    public let verifier: NoteVerifier
    private let privateKey: P256.Signing.PrivateKey

    public init(name: String, privateKey: P256.Signing.PrivateKey) throws {
        self.privateKey = privateKey
        self.verifier = try NoteVerifier(name: name, publicKey: privateKey.publicKey)
    }

    /// A signer with a fresh key (tests, and the first start of a state directory).
    public static func generate(name: String) throws -> CheckpointSigner {
        try CheckpointSigner(name: name, privateKey: P256.Signing.PrivateKey())
    }

    /// The key in PEM form, for the state directory's key file. Never log it.
    var pemRepresentation: String { self.privateKey.pemRepresentation }

    public init(name: String, pem: String) throws {
        guard let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) else {
            throw AuditLogError(.keyFile, "checkpoint key: not a PEM ECDSA P-256 private key")
        }
        try self.init(name: name, privateKey: key)
    }

    /// Signs `checkpoint` and returns the signed note.
    public func sign(_ checkpoint: Checkpoint) throws -> SignedCheckpoint {
        let body = checkpoint.body
        let signature = try self.privateKey.signature(for: Data(body.utf8)).derRepresentation
        let blob = Data(self.verifier.keyID + Array(signature)).base64EncodedString()
        return SignedCheckpoint(checkpoint: checkpoint, note: "\(body)\n\u{2014} \(self.verifier.name) \(blob)\n")
    }
}

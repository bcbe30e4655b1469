import Crypto
public import Foundation

/// The gateway's command-signing key: an ECDSA P-256 key of its own, not the TLS key, so
/// that a leaked TLS key cannot sign a bolus and a rotated command key does not touch TLS.
///
/// ```
/// DIR/command.key   the private key (PKCS#8 PEM, mode 0600); only the gateway reads it
/// DIR/command.pem   its public key (SubjectPublicKeyInfo PEM): what every pump pins
/// ```
extension PKIDirectory {
    public var commandKey: URL { self.root.appendingPathComponent("command.key") }
    public var commandPublicKey: URL { self.root.appendingPathComponent("command.pem") }

    /// The command-signing private key, PEM. A PKI made before command keys existed gets a
    /// `missingFile` error that says how to add one.
    public func commandKeyPEM() throws -> String {
        try self.readCommandFile(self.commandKey)
    }

    /// The command public key the pumps pin, PEM.
    public func commandPublicKeyPEM() throws -> String {
        try self.readCommandFile(self.commandPublicKey)
    }

    private func readCommandFile(_ url: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PKIError(
                .missingFile,
                "\(url.path) does not exist: this PKI has no command key yet; run "
                    + "`medtunnel pki init --gateway-dir \(self.root.path) --ca-dir CA` to add one (the CA and certificates are kept)"
            )
        }
        return try self.read(url)
    }
}

extension PKIOperations {
    /// Writes a new command key pair (`command.key` 0600, `command.pem` 0644, each durably).
    /// An existing key is kept (returns `false`) unless `force`: pumps pin its public key.
    @discardableResult
    public static func createCommandKey(in directory: PKIDirectory, force: Bool = false) throws -> Bool {
        let fm = FileManager.default
        if !force && fm.fileExists(atPath: directory.commandKey.path) {
            return false
        }
        let key = P256.Signing.PrivateKey()
        // The public half first: a crash between the two leaves no private key without its
        // public key, and the next run replaces the orphan public key.
        try writeFileDurably(key.publicKey.pemRepresentation, to: directory.commandPublicKey, mode: 0o644)
        try writeFileDurably(key.pemRepresentation, to: directory.commandKey, mode: 0o600)
        return true
    }

    /// For a PKI made before command keys existed: when the CA is there but `command.key`
    /// is not, creates only the command key (the CA and every certificate stay) and returns
    /// `true`; otherwise does nothing and returns `false`.
    public static func addMissingCommandKey(_ directory: PKIDirectory) throws -> Bool {
        let fm = FileManager.default
        guard fm.fileExists(atPath: directory.caCertificate.path), !fm.fileExists(atPath: directory.commandKey.path)
        else { return false }
        return try createCommandKey(in: directory)
    }
}

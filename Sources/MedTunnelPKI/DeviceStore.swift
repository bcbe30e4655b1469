public import Crypto
public import Foundation
public import MedTunnelIdentity
import X509

/// A device's own storage: where a pump's or phone's key is born and stays.
///
/// ```
/// DIR/NAME.key      its P-256 private key, mode 0600, generated here, never exported
/// DIR/NAME.pem      its certificate, once provisioning signed its request
/// DIR/ca.pem        the CA it trusts (it pins the gateway's TLS certificate to it)
/// DIR/command.pem   pumps: the gateway's command public key, which signs every command
/// ```
/// The device hands out only a certificate signing request (``certificateSigningRequest()``);
/// provisioning signs it (``PKIOperations/enroll(_:model:firmware:in:replace:validityDays:now:)``)
/// and the device installs the certificate with the public trust anchors (``install(certificatePEM:trust:)``).
public struct DeviceStore: Sendable {
    public let directory: URL
    public let identity: DeviceIdentity

    public init(directory: String, identity: DeviceIdentity) {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        self.identity = identity
    }

    public var key: URL { self.directory.appendingPathComponent("\(self.identity.name).key") }
    public var certificate: URL { self.directory.appendingPathComponent("\(self.identity.name).pem") }
    public var caCertificate: URL { self.directory.appendingPathComponent("ca.pem") }
    public var commandPublicKey: URL { self.directory.appendingPathComponent("command.pem") }

    /// Whether a certificate and the CA are installed.
    public var isEnrolled: Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: self.certificate.path) && fm.fileExists(atPath: self.caCertificate.path)
    }

    /// The device's key; generated (mode 0600, durably) when there is none. An existing key whose
    /// group or others have access is refused (`.unsafeKeyPermissions`), naming the file.
    public func loadOrCreateKey() throws -> P256.Signing.PrivateKey {
        if let identity = DeviceIdentity.validationProblem(self.identity.name) {
            throw PKIError(.invalidName, "\(self.identity.kind) name '\(self.identity.name)' \(identity)")
        }
        guard FileManager.default.fileExists(atPath: self.key.path) else {
            let key = P256.Signing.PrivateKey()
            try writeFileDurably(key.pemRepresentation, to: self.key, mode: 0o600)
            return key
        }
        return try self.loadKey()
    }

    private func loadKey() throws -> P256.Signing.PrivateKey {
        try checkPrivateKeyPermissions(self.key)
        do {
            return try P256.Signing.PrivateKey(pemRepresentation: try self.read(self.key, "the device key"))
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError(.unreadableFile, "\(self.key.path) is not a PEM P-256 private key")
        }
    }

    /// A PEM certificate signing request for this device's key (generated if missing): subject
    /// CN the serial or phone id. Public: it may be carried anywhere.
    public func certificateSigningRequest() throws -> String {
        let key = try self.loadOrCreateKey()
        let request = try CertificateSigningRequest(
            version: .v1,
            subject: try DistinguishedName { CommonName(self.identity.name) },
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes(),
            signatureAlgorithm: .ecdsaWithSHA256
        )
        return try request.serializeAsPEM().pemString
    }

    /// The device's credentials for TLS and acknowledgements. Refuses a key readable by group
    /// or others, and a device not enrolled yet (naming what to run).
    public func credentials() throws -> DeviceCredentials {
        guard FileManager.default.fileExists(atPath: self.key.path) else {
            throw PKIError(.missingFile, "\(self.identity) has no key in \(self.directory.path): \(self.enrollHint)")
        }
        let keyPEM = try self.loadKey().pemRepresentation
        guard self.isEnrolled else {
            throw PKIError(
                .missingFile,
                "\(self.identity) has a key but no certificate in \(self.directory.path): \(self.enrollHint)"
            )
        }
        let commandPEM =
            FileManager.default.fileExists(atPath: self.commandPublicKey.path)
            ? try self.read(self.commandPublicKey, "the command public key") : nil
        return DeviceCredentials(
            privateKeyPEM: keyPEM,
            certificatePEM: try self.read(self.certificate, "the device certificate"),
            caCertificatePEM: try self.read(self.caCertificate, "the CA certificate"),
            commandPublicKeyPEM: commandPEM
        )
    }

    var enrollHint: String {
        let flag = self.identity.kind == "pump" ? "--serial \(self.identity.name)" : "--phone-id \(self.identity.name)"
        let command = self.identity.kind == "pump" ? "pump-sim" : "relay"
        return "enroll it with `medtunnel \(command) --state-dir \(self.directory.path) \(flag) --enroll-with PKI` "
            + "(or --csr FILE, then `medtunnel pki sign-\(self.identity.kind)` and --install CERT --trust PKI/gateway)"
    }

    func read(_ url: URL, _ what: String) throws -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw PKIError(.unreadableFile, "cannot read \(what) \(url.path): \(error.localizedDescription)")
        }
    }
}

/// What a device runs with, read from its ``DeviceStore``. Never logged.
public struct DeviceCredentials: Sendable {
    public let privateKeyPEM: String
    public let certificatePEM: String
    public let caCertificatePEM: String
    /// Pumps: the gateway's command public key; nil for phones.
    public let commandPublicKeyPEM: String?
}

public import Foundation
import X509

extension DeviceStore {
    /// Installs the certificate provisioning signed, with the public trust anchors from the gateway
    /// folder `trust` (`ca.pem`, and for pumps `command.pem`). Refuses (`.certificateMismatch`) a
    /// certificate for another device, for another key than this device's, or not signed by the
    /// CA in `trust`: a device must not run with what it cannot use.
    public func install(certificatePEM: String, trust: PKIDirectory) throws {
        let key = try self.loadOrCreateKey()
        let caPEM = try trust.read(trust.caCertificate)
        let certificate: Certificate
        let ca: Certificate
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
            ca = try Certificate(pemEncoded: caPEM)
        } catch {
            throw PKIError(
                .unreadableFile,
                "the certificate to install or \(trust.caCertificate.path) is not PEM: \(error)"
            )
        }
        let claims = try DeviceCertificateClaims(certificate: certificate)
        guard claims.identity == self.identity else {
            throw PKIError(
                .certificateMismatch,
                "the certificate is for \(claims.identity), not \(self.identity); nothing was installed"
            )
        }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw PKIError(
                .certificateMismatch,
                "the certificate for \(self.identity) is not for the key in \(self.key.path) (signed from another "
                    + "request?); make a new request with --csr and have it signed; nothing was installed"
            )
        }
        guard certificate.issuer == ca.subject, ca.publicKey.isValidSignature(certificate.signature, for: certificate)
        else {
            throw PKIError(
                .certificateMismatch,
                "the certificate for \(self.identity) is not signed by the CA in \(trust.caCertificate.path); "
                    + "nothing was installed"
            )
        }
        if case .pump = self.identity {
            try Self.write(try trust.commandPublicKeyPEM(), to: self.commandPublicKey)
        }
        try Self.write(caPEM, to: self.caCertificate)
        try writeFileDurably(certificatePEM, to: self.certificate, mode: 0o644)
    }

    /// Writes a public anchor unless the same text is there: a fleet's pumps share one folder
    /// and its anchors, and each durable write costs fsyncs.
    private static func write(_ text: String, to url: URL) throws {
        if (try? String(contentsOf: url, encoding: .utf8)) == text { return }
        try writeFileDurably(text, to: url, mode: 0o644)
    }

    /// For simulators and tests: the whole provisioning in one process. The key is born here (or
    /// kept), the request is signed by the CA of `layout` and installed with the anchors of its
    /// gateway folder. The key never leaves this store. A device already enrolled with this CA is
    /// left as it is (returns `false`). A device the CA enrolled with another key is refused
    /// (`.alreadyEnrolled`) unless `replace`.
    @discardableResult
    public func enroll(
        with layout: PKILayout,
        model: String? = nil,
        firmware: String? = nil,
        replace: Bool = false,
        now: Date = Date()
    ) throws -> Bool {
        // Enrolled with this PKI's CA: nothing to do. Enrolled with another (a PKI made anew): the
        // same key is enrolled again with this one.
        if self.isEnrolled, FileManager.default.fileExists(atPath: self.key.path),
            (try? String(contentsOf: self.caCertificate, encoding: .utf8))
                == (try? String(contentsOf: layout.gateway.caCertificate, encoding: .utf8))
        {
            return false
        }
        let request = try DeviceCertificateRequest(
            pem: try self.certificateSigningRequest(),
            kind: self.identity.kind == "pump" ? .pump : .phone,
            source: "the request of \(self.identity)"
        )
        // A device whose certificate was lost but whose enrollment the CA recorded gets a new one
        // for the same key: the key is the device's, the certificate only states it.
        let record = layout.ca.enrolledCertificate(for: self.identity)
        let sameKey =
            (try? Certificate(pemEncoded: String(contentsOf: record, encoding: .utf8)).publicKey)
            == Certificate.PublicKey(request.publicKey)
        let enrollment = try PKIOperations.enroll(
            request,
            model: model,
            firmware: firmware,
            in: layout,
            replace: replace || sameKey,
            now: now
        )
        try self.install(certificatePEM: enrollment.certificatePEM, trust: layout.gateway)
        return true
    }
}

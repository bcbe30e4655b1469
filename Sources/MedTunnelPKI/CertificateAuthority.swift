public import Crypto
public import Foundation
public import MedTunnelIdentity
import SwiftASN1
public import X509

#if canImport(Glibc)
import Glibc
#endif

/// What a certificate is for. Each profile sets the key usages and names the gateway checks.
public enum CertificateProfile: Sendable {
    /// The gateway's TLS server certificate: serverAuth, SAN for each host name or IP address.
    case gateway(names: [String])
    /// A pump's or phone's client certificate: clientAuth, CN and SAN URI carry the identity.
    case device(DeviceIdentity)
}

/// A certificate with its freshly generated P-256 private key, both in PEM.
public struct IssuedCredential: Sendable {
    public let certificatePEM: String
    public let privateKeyPEM: String
    public let certificate: Certificate
}

/// The MedTunnel certificate authority: ECDSA P-256 with SHA-256 throughout, since the
/// pump's mbedTLS profile accepts nothing else.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    private let key: P256.Signing.PrivateKey

    public static let defaultCAValidityDays = 3650
    public static let defaultLeafValidityDays = 730

    /// Creates a new self-signed CA.
    public static func create(
        commonName: String = "MedTunnel CA",
        now: Date = Date(),
        validityDays: Int = defaultCAValidityDays
    ) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("MedTunnel")
            CommonName(commonName)
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(Double(validityDays) * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return CertificateAuthority(certificate: certificate, key: key)
    }

    /// Loads the CA from `CA/ca.pem` and `CA/ca.key`, checking that they belong together.
    public static func load(from directory: CADirectory) throws -> CertificateAuthority {
        let certificatePEM = try directory.read(directory.caCertificate)
        let keyPEM = try directory.read(directory.caKey)
        let certificate: Certificate
        let key: P256.Signing.PrivateKey
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw PKIError(.unreadableFile, "\(directory.caCertificate.path) is not a PEM certificate: \(error)")
        }
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        } catch {
            throw PKIError(.unreadableFile, "\(directory.caKey.path) is not a PEM P-256 private key: \(error)")
        }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw PKIError(.notAuthority, "\(directory.caKey.path) is not the key of \(directory.caCertificate.path)")
        }
        return CertificateAuthority(certificate: certificate, key: key)
    }

    /// Writes `CA/ca.pem` and `CA/ca.key`. An existing CA is never replaced unless `force`.
    public func save(to directory: CADirectory, force: Bool = false) throws {
        let fm = FileManager.default
        if !force
            && (fm.fileExists(atPath: directory.caCertificate.path) || fm.fileExists(atPath: directory.caKey.path))
        {
            throw PKIError(
                .alreadyExists,
                "a CA already exists in \(directory.root.path); pass --force to replace it (every certificate it issued stops working)"
            )
        }
        try writeFileDurably(self.key.pemRepresentation, to: directory.caKey, mode: 0o600)
        try writeFileDurably(try self.certificate.serializeAsPEM().pemString, to: directory.caCertificate, mode: 0o644)
    }

    /// Issues a certificate for `profile` with a new P-256 key generated here: for the gateway's
    /// own TLS key (and for tests). Devices generate their keys themselves and send a CSR
    /// (``signDevice(_:publicKey:notValidBefore:notValidAfter:)``).
    public func issue(
        _ profile: CertificateProfile,
        notValidBefore: Date = Date().addingTimeInterval(-300),
        notValidAfter: Date = Date().addingTimeInterval(Double(defaultLeafValidityDays) * 86_400)
    ) throws -> IssuedCredential {
        let leafKey = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(leafKey.publicKey)
        let subject: DistinguishedName
        let usage: ExtendedKeyUsage.Usage
        let names: [GeneralName]
        switch profile {
        case .gateway(let hostNames):
            guard !hostNames.isEmpty else {
                throw PKIError(.invalidName, "the gateway certificate needs at least one --gateway-name")
            }
            let first = hostNames[0]
            subject = try DistinguishedName {
                OrganizationName("MedTunnel")
                CommonName(first)
            }
            usage = .serverAuth
            names = try hostNames.map(Self.generalName(forHost:))
        case .device(let identity):
            if let problem = DeviceIdentity.validationProblem(identity.name) {
                throw PKIError(.invalidName, "\(identity.kind) name '\(identity.name)' \(problem)")
            }
            subject = try DistinguishedName { CommonName(identity.name) }
            usage = .clientAuth
            names = [.uniformResourceIdentifier(identity.uri)]
        }
        let certificate = try self.certificate(
            publicKey: publicKey,
            subject: subject,
            usage: usage,
            names: names,
            notValidBefore: notValidBefore,
            notValidAfter: notValidAfter
        )
        return IssuedCredential(
            certificatePEM: try certificate.serializeAsPEM().pemString,
            privateKeyPEM: leafKey.pemRepresentation,
            certificate: certificate
        )
    }

    /// Signs a device certificate for a public key the device generated (its CSR's): clientAuth,
    /// CN the serial or phone id, SAN URIs the identity and, for pumps, model and firmware
    /// (``DeviceCertificateClaims``). The caller checked the CSR (``DeviceCertificateRequest``).
    public func signDevice(
        _ claims: DeviceCertificateClaims,
        publicKey: P256.Signing.PublicKey,
        notValidBefore: Date,
        notValidAfter: Date
    ) throws -> Certificate {
        if let problem = DeviceIdentity.validationProblem(claims.identity.name) {
            throw PKIError(.invalidName, "\(claims.identity.kind) name '\(claims.identity.name)' \(problem)")
        }
        for (what, value) in [("model", claims.model), ("firmware", claims.firmware)] {
            if let value, let problem = DeviceCertificateClaims.validationProblem(value) {
                throw PKIError(.invalidAttribute, "the \(what) name '\(value.prefix(80))' \(problem)")
            }
        }
        return try self.certificate(
            publicKey: Certificate.PublicKey(publicKey),
            subject: try DistinguishedName { CommonName(claims.identity.name) },
            usage: .clientAuth,
            names: claims.subjectAlternativeNames,
            notValidBefore: notValidBefore,
            notValidAfter: notValidAfter
        )
    }

    private func certificate(
        publicKey: Certificate.PublicKey,
        subject: DistinguishedName,
        usage: ExtendedKeyUsage.Usage,
        names: [GeneralName],
        notValidBefore: Date,
        notValidAfter: Date
    ) throws -> Certificate {
        let caKeyIdentifier = try self.certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([usage])
            SubjectAlternativeNames(names)
            SubjectKeyIdentifier(hash: publicKey)
            AuthorityKeyIdentifier(keyIdentifier: caKeyIdentifier)
        }
        return try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: notValidBefore,
            notValidAfter: notValidAfter,
            issuer: self.certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(self.key)
        )
    }

    static func generalName(forHost host: String) throws -> GeneralName {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: &v4) { ArraySlice($0) }))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: &v6) { ArraySlice($0) }))
        }
        let valid =
            !host.isEmpty && host.count <= 253
            && host.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D
                    || b == 0x2E
            }
        guard valid else {
            throw PKIError(.invalidName, "gateway name '\(host)' is neither an IP address nor a DNS host name")
        }
        return .dnsName(host)
    }
}

public import Crypto
public import Foundation
public import MedTunnelIdentity
import SwiftASN1
public import X509

/// A device's certificate signing request, checked: what provisioning may sign.
///
/// A pump or phone generates its P-256 key in its own storage and sends only this request
/// (PKCS #10: its public key and its serial or id as the subject common name, signed by the key).
/// Checked, in order, each with its own error naming `source`:
/// - PEM `CERTIFICATE REQUEST` that parses (`.invalidRequest`);
/// - its signature verifies with its own public key (`.requestSignatureInvalid`): the sender
///   holds the key;
/// - the key is ECDSA P-256 (`.unsupportedKey`): the pump's mbedTLS profile takes nothing else;
/// - exactly one common name, a valid serial or id (`.invalidName`).
public struct DeviceCertificateRequest: Sendable {
    public let identity: DeviceIdentity
    public let publicKey: P256.Signing.PublicKey

    /// `kind`: "pump" or "phone" (what the subject's name is taken as); `source`: the file, for messages.
    public init(pem: String, kind: DeviceKind, source: String) throws {
        let request: CertificateSigningRequest
        do {
            request = try CertificateSigningRequest(pemEncoded: pem)
        } catch {
            throw PKIError(
                .invalidRequest,
                "\(source) is not a PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----): \(error); "
                    + "make one on the device, e.g. `medtunnel \(kind.deviceCommand) --csr FILE`"
            )
        }
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw PKIError(
                .requestSignatureInvalid,
                "the signature of the certificate request \(source) does not verify with its own public key: "
                    + "it was altered or not made by the key's holder; nothing was signed"
            )
        }
        guard let key = P256.Signing.PublicKey(request.publicKey) else {
            throw PKIError(
                .unsupportedKey,
                "the certificate request \(source) carries a key that is not ECDSA P-256 "
                    + "(\(Self.describe(request.publicKey))); MedTunnel devices use P-256 only, as the pump's TLS profile requires"
            )
        }
        let names = request.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.commonName }
        guard names.count == 1, let name = String(names[0].value) else {
            throw PKIError(
                .invalidRequest,
                "the certificate request \(source) has \(names.count) subject common names; exactly one, "
                    + "the \(kind.nameWord), is required"
            )
        }
        if let problem = DeviceIdentity.validationProblem(name) {
            throw PKIError(.invalidName, "the \(kind.nameWord) '\(name.prefix(80))' in \(source) \(problem)")
        }
        self.identity = kind.identity(name)
        self.publicKey = key
    }

    private static func describe(_ key: Certificate.PublicKey) -> String {
        if P384.Signing.PublicKey(key) != nil { return "ECDSA P-384" }
        if P521.Signing.PublicKey(key) != nil { return "ECDSA P-521" }
        return "\(key)".prefix(40) + "…"
    }
}

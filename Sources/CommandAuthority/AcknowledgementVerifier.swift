import Crypto
import MedTunnelIdentity
public import TunnelProtocol
public import X509

/// Checks acknowledgements from one pump with the public key of its certificate (the key
/// the pump's TLS identity and its acknowledgements share).
public struct AcknowledgementVerifier: Sendable {
    public let serial: String
    /// Internal: `PairingCodeVerifier` checks codes with the same key.
    let key: P256.Signing.PublicKey

    /// The pump's certificate; it must name exactly one pump and carry a P-256 key.
    public init(pumpCertificate certificate: Certificate) throws(CommandAuthorityError) {
        var uris: [String] = []
        do {
            for name in try certificate.extensions.subjectAlternativeNames ?? SubjectAlternativeNames() {
                if case .uniformResourceIdentifier(let uri) = name { uris.append(uri) }
            }
        } catch {
            throw CommandAuthorityError(.invalidKey, "the pump certificate's subject alternative names do not parse")
        }
        // Only identity URNs count: a pump certificate also carries its model and firmware as
        // `urn:medtunnel:model:…`/`firmware:…` SAN URIs, which DeviceIdentity(uri:) rejects.
        let identities = uris.compactMap(DeviceIdentity.init(uri:))
        guard identities.count == 1, case .pump(let serial) = identities[0] else {
            throw CommandAuthorityError(.invalidKey, "the certificate does not name exactly one pump")
        }
        guard let key = P256.Signing.PublicKey(certificate.publicKey) else {
            throw CommandAuthorityError(.invalidKey, "the pump certificate for \(serial) has no P-256 key")
        }
        self.serial = serial
        self.key = key
    }

    public init(pumpCertificatePEM: String) throws(CommandAuthorityError) {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: pumpCertificatePEM)
        } catch {
            throw CommandAuthorityError(.invalidKey, "the pump certificate is not a PEM certificate")
        }
        try self.init(pumpCertificate: certificate)
    }

    /// The acknowledgement, once its signature verifies and it names this pump.
    public func verify(_ signed: SignedAcknowledgement) throws(CommandAuthorityError) -> CommandAcknowledgement {
        let signature: P256.Signing.ECDSASignature
        do {
            signature = try P256.Signing.ECDSASignature(rawRepresentation: signed.signature)
        } catch {
            throw CommandAuthorityError(.badSignature, "the acknowledgement signature is not a P-256 r ‖ s")
        }
        guard self.key.isValidSignature(signature, for: signed.signedMessage) else {
            throw CommandAuthorityError(.badSignature, "the acknowledgement is not signed by pump \(self.serial)")
        }
        guard signed.acknowledgement.serial == self.serial else {
            throw CommandAuthorityError(.wrongSerial, "an acknowledgement from \(self.serial) names another pump")
        }
        return signed.acknowledgement
    }

    /// As `verify(_:)`, and the acknowledgement answers exactly `command`: same sequence and
    /// the SHA-256 of the command's bytes.
    public func verify(
        _ signed: SignedAcknowledgement,
        answering command: SignedCommand
    ) throws(CommandAuthorityError) -> CommandAcknowledgement {
        let acknowledgement = try self.verify(signed)
        guard acknowledgement.sequence == command.envelope.sequence,
            acknowledgement.commandDigest == CommandDigest.sha256(of: command)
        else {
            throw CommandAuthorityError(
                .notTheAnswer,
                "acknowledgement for sequence \(acknowledgement.sequence) does not answer command "
                    + "\(command.envelope.sequence) as sent"
            )
        }
        return acknowledgement
    }
}

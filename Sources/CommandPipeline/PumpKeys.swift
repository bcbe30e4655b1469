public import CommandAuthority
import Foundation
public import MedTunnelPKI

/// What the gateway knows of a pump from its certificate: the key that signs its
/// acknowledgements and pairing codes, and the model the CA wrote into it at enrollment.
public struct PumpCertificateFacts: Sendable {
    public let verifier: AcknowledgementVerifier
    /// The pump model from the certificate (`urn:medtunnel:model:NAME`); nil for a certificate
    /// made before models were written into them (a migrated PKI).
    public let model: String?

    public init(verifier: AcknowledgementVerifier, model: String?) {
        self.verifier = verifier
        self.model = model
    }
}

/// Where the pipeline finds the key that signs a pump's acknowledgements and pairing codes: the
/// public key of the pump's certificate. Looked up once per session (when the pump says hello)
/// and for each pairing code posted. `isRevoked` tells whether the PKI revoked the pump.
public struct PumpKeys: Sendable {
    private let load: @Sendable (String) throws -> PumpCertificateFacts
    private let revoked: @Sendable (String) -> Bool

    public init(
        _ load: @escaping @Sendable (String) throws -> PumpCertificateFacts,
        isRevoked: @escaping @Sendable (String) -> Bool = { _ in false }
    ) {
        self.load = load
        self.revoked = isRevoked
    }

    /// The certificates the PKI issued: `DIR/pumps/SERIAL.pem` in the gateway folder, and its
    /// revocation list.
    public static func pki(_ directory: PKIDirectory) -> PumpKeys {
        let revocations = RevocationListFile(directory: directory)
        return PumpKeys(
            { serial in
                let url = directory.certificate(for: .pump(serial: serial))
                let pem = try String(contentsOf: url, encoding: .utf8)
                return PumpCertificateFacts(
                    verifier: try AcknowledgementVerifier(pumpCertificatePEM: pem),
                    model: try DeviceCertificateClaims(pem: pem).model
                )
            },
            isRevoked: { serial in revocations.isRevoked(.pump(serial: serial)) }
        )
    }

    public func facts(for serial: String) throws -> PumpCertificateFacts {
        try load(serial)
    }

    func verifier(for serial: String) throws -> AcknowledgementVerifier {
        try load(serial).verifier
    }

    func isRevoked(_ serial: String) -> Bool {
        revoked(serial)
    }
}

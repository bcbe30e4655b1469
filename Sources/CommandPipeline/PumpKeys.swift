public import CommandAuthority
import Foundation
public import MedTunnelPKI

/// Where the pipeline finds the key that signs a pump's acknowledgements and pairing codes: the
/// public key of the pump's certificate. Looked up once per session (when the pump says hello)
/// and for each pairing code posted. `isRevoked` tells whether the PKI revoked the pump.
public struct PumpKeys: Sendable {
    private let load: @Sendable (String) throws -> AcknowledgementVerifier
    private let revoked: @Sendable (String) -> Bool

    public init(
        _ load: @escaping @Sendable (String) throws -> AcknowledgementVerifier,
        isRevoked: @escaping @Sendable (String) -> Bool = { _ in false }
    ) {
        self.load = load
        self.revoked = isRevoked
    }

    /// The certificates the PKI issued: `DIR/pumps/SERIAL.pem`, and its revocation list.
    public static func pki(_ directory: PKIDirectory) -> PumpKeys {
        let revocations = RevocationListFile(directory: directory)
        return PumpKeys(
            { serial in
                let url = directory.certificate(for: .pump(serial: serial))
                return try AcknowledgementVerifier(pumpCertificatePEM: try String(contentsOf: url, encoding: .utf8))
            },
            isRevoked: { serial in revocations.isRevoked(.pump(serial: serial)) }
        )
    }

    func verifier(for serial: String) throws -> AcknowledgementVerifier {
        try load(serial)
    }

    func isRevoked(_ serial: String) -> Bool {
        revoked(serial)
    }
}

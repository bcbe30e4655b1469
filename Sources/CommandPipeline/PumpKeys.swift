public import CommandAuthority
import Foundation
public import MedTunnelPKI

/// Where the pipeline finds the key that signs a pump's acknowledgements: the public key of
/// the pump's certificate. Looked up once per session (when the pump says hello).
public struct PumpKeys: Sendable {
    private let load: @Sendable (String) throws -> AcknowledgementVerifier

    public init(_ load: @escaping @Sendable (String) throws -> AcknowledgementVerifier) {
        self.load = load
    }

    /// The certificates the PKI issued: `DIR/pumps/SERIAL.pem`.
    public static func pki(_ directory: PKIDirectory) -> PumpKeys {
        PumpKeys { serial in
            let url = directory.certificate(for: .pump(serial: serial))
            return try AcknowledgementVerifier(pumpCertificatePEM: try String(contentsOf: url, encoding: .utf8))
        }
    }

    func verifier(for serial: String) throws -> AcknowledgementVerifier {
        try load(serial)
    }
}

public import Foundation
public import MedTunnelIdentity

/// The offline certificate authority's folder, `PKI/ca/`: the only place the CA key lives.
///
/// ```
/// ca/ca.pem, ca/ca.key                the MedTunnel CA (the key never leaves this folder)
/// ca/enrolled/pumps/SERIAL.pem        every pump certificate this CA signed (the enrollment record)
/// ca/enrolled/phones/ID.pem           every phone certificate this CA signed
/// ```
/// The gateway never runs with this folder (it refuses a CA key: ``PKIDirectory/checkGatewayFolder()``);
/// keep it offline, on the provisioning station.
public struct CADirectory: Sendable {
    public let root: URL

    public init(_ path: String) {
        self.root = URL(fileURLWithPath: path, isDirectory: true)
    }

    public var caCertificate: URL { self.root.appendingPathComponent("ca.pem") }
    public var caKey: URL { self.root.appendingPathComponent("ca.key") }

    /// Where the record of `identity`'s enrollment is kept: its certificate as signed.
    public func enrolledCertificate(for identity: DeviceIdentity) -> URL {
        let folder =
            switch identity {
            case .pump: "pumps"
            case .phone: "phones"
            }
        return self.root.appendingPathComponent("enrolled", isDirectory: true)
            .appendingPathComponent(folder, isDirectory: true)
            .appendingPathComponent("\(identity.name).pem")
    }

    func read(_ url: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PKIError(
                .missingFile,
                "\(url.path) does not exist; create the PKI with `medtunnel pki init --dir PKI` "
                    + "(the CA goes to PKI/ca) or give the CA folder with --ca-dir"
            )
        }
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw PKIError(.unreadableFile, "\(url.path) cannot be read: \(error)")
        }
    }
}

public import Foundation

/// The two folders of a MedTunnel PKI: the offline CA and what the gateway runs with. By default
/// both live under one root, `PKI/ca` and `PKI/gateway`; they can be kept apart (the CA on a
/// provisioning station, the gateway folder on the gateway host).
public struct PKILayout: Sendable {
    public let ca: CADirectory
    public let gateway: PKIDirectory

    /// `ROOT/ca` and `ROOT/gateway`.
    public init(root: String) {
        let url = URL(fileURLWithPath: root, isDirectory: true)
        self.ca = CADirectory(url.appendingPathComponent("ca", isDirectory: true).path)
        self.gateway = PKIDirectory(url.appendingPathComponent("gateway", isDirectory: true).path)
    }

    public init(ca: CADirectory, gateway: PKIDirectory) {
        self.ca = ca
        self.gateway = gateway
    }
}

public import Foundation
import MedTunnelIdentity
import MedTunnelPKI

/// A PKI in the single-folder layout from before keys were born on devices (what `pki init`,
/// `issue-pump` and `issue-phone` wrote): CA key, gateway and command keys and every device key
/// side by side. For migration tests.
public enum OldLayoutPKI {
    public static func write(at root: URL, pumps: [String], phones: [String] = []) throws {
        let fm = FileManager.default
        func write(_ text: String, _ path: String, _ mode: Int) throws {
            let url = root.appendingPathComponent(path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
            try fm.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
        }
        let ca = try CertificateAuthority.create()
        try ca.save(to: CADirectory(root.path))
        let gateway = try ca.issue(.gateway(names: ["localhost", "127.0.0.1"]))
        try write(gateway.certificatePEM, "gateway.pem", 0o644)
        try write(gateway.privateKeyPEM, "gateway.key", 0o600)
        try PKIOperations.createCommandKey(in: PKIDirectory(root.path))
        for serial in pumps {
            let pump = try ca.issue(.device(.pump(serial: serial)))
            try write(pump.certificatePEM, "pumps/\(serial).pem", 0o644)
            try write(pump.privateKeyPEM, "pumps/\(serial).key", 0o600)
        }
        for id in phones {
            let phone = try ca.issue(.device(.phone(id: id)))
            try write(phone.certificatePEM, "phones/\(id).pem", 0o644)
            try write(phone.privateKeyPEM, "phones/\(id).key", 0o600)
        }
        if let first = pumps.first {
            try write("urn:medtunnel:pump:\(first)\t1767225600\tstolen\n", "revoked.txt", 0o644)
        }
    }
}

public import Foundation
import X509

#if canImport(Glibc)
import Glibc
#endif

extension PKIDirectory {
    /// The only private keys a gateway folder may hold: the gateway's TLS key and its command key.
    static let gatewayKeyNames: Set<String> = ["gateway.key", "command.key"]

    /// Refuses a folder the gateway must not run with (`.unsafeGatewayFolder`, or
    /// `.unsafeKeyPermissions`), naming the file and what to do:
    /// - the PKI root (it holds `ca/`): run with `PKI/gateway`;
    /// - a CA private key: `ca.key`, or any key whose public half is the CA certificate's;
    /// - any other private key than `gateway.key` and `command.key` (a pump's or phone's key left
    ///   over: whoever reads it can impersonate that device and forge its acknowledgements);
    /// - `gateway.key` or `command.key` readable or writable by group or others.
    /// A private key is any file named `*.key` or holding a PEM `PRIVATE KEY` block, anywhere below.
    public func checkGatewayFolder() throws {
        let fm = FileManager.default
        let caFolder = self.root.appendingPathComponent("ca", isDirectory: true)
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: caFolder.path, isDirectory: &isDirectory), isDirectory.boolValue {
            let gateway = self.root.appendingPathComponent("gateway").path
            throw PKIError(
                .unsafeGatewayFolder,
                "\(self.root.path) is a PKI root (it holds the CA folder \(caFolder.path)); run the gateway with "
                    + "its gateway folder instead: --pki \(gateway)"
            )
        }
        let caPublicKey = try? Self.publicKey(ofCertificate: self.caCertificate)
        for url in Self.regularFiles(under: self.root) {
            guard Self.isPrivateKey(url) else { continue }
            let relative = String(url.path.dropFirst(self.root.path.count)).trimmingCharacters(in: ["/"])
            if relative == "ca.key"
                || (caPublicKey != nil && (try? Self.publicKey(ofPrivateKey: url)) == caPublicKey)
            {
                throw PKIError(
                    .unsafeGatewayFolder,
                    "\(url.path) is the CA's private key: it must never be on the gateway (whoever holds it can "
                        + "enroll any device). Move it to the offline CA folder (PKI/ca) and start again"
                )
            }
            guard Self.gatewayKeyNames.contains(relative) else {
                throw PKIError(
                    .unsafeGatewayFolder,
                    "\(url.path) is a private key the gateway must not hold (only gateway.key and command.key): "
                        + "a device's key lets whoever reads it impersonate that device and forge its "
                        + "acknowledgements. Move it to its device (or delete it and re-enroll the device with "
                        + "`medtunnel pki sign-pump`/`sign-phone`), then start again"
                )
            }
            try checkPrivateKeyPermissions(url)
        }
    }

    /// Every file below `root`, symbolic links to files included (a link to a key is a key).
    static func regularFiles(under root: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        return walker.compactMap { $0 as? URL }.filter { url in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }

    static func isPrivateKey(_ url: URL) -> Bool {
        if url.pathExtension == "key" { return true }
        // Only small files are read: PEM keys are a few hundred bytes.
        guard let size = try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int, size < 65_536,
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return false }
        return text.contains("PRIVATE KEY-----")
    }

    static func publicKey(ofCertificate url: URL) throws -> Certificate.PublicKey {
        try Certificate(pemEncoded: String(contentsOf: url, encoding: .utf8)).publicKey
    }

    static func publicKey(ofPrivateKey url: URL) throws -> Certificate.PublicKey {
        try Certificate.PrivateKey(pemEncoded: String(contentsOf: url, encoding: .utf8)).publicKey
    }
}

/// Refuses a private key file whose mode gives its group or others any access (`mode & 0o077`):
/// on a shared host they could read the key. Names the file and the fix.
public func checkPrivateKeyPermissions(_ url: URL) throws {
    var info = stat()
    guard stat(url.path, &info) == 0 else {
        throw PKIError(.missingFile, "\(url.path) cannot be examined: \(String(cString: strerror(errno)))")
    }
    let mode = info.st_mode & 0o777
    guard mode & 0o077 == 0 else {
        throw PKIError(
            .unsafeKeyPermissions,
            "the private key \(url.path) has mode \(String(mode, radix: 8)): its group or others can access it; "
                + "run `chmod 600 \(url.path)` (and check who may have read it)"
        )
    }
}

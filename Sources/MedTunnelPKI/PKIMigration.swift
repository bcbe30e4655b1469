public import Foundation
public import MedTunnelIdentity

/// Moves a PKI of the old single-folder layout (before keys were born on devices) into the
/// two-folder layout, without touching the old folder.
///
/// ```
/// OLD/ca.pem, ca.key, gateway.*, command.*, revoked.txt, pumps/S.pem+.key, phones/ID.pem+.key
///   →  NEW/ca/        ca.pem, ca.key, enrolled/pumps/S.pem, enrolled/phones/ID.pem
///      NEW/gateway/   ca.pem, gateway.*, command.*, revoked.txt, pumps/S.pem, phones/ID.pem
///      NEW/devices/pumps/S/    S.key, S.pem, ca.pem, command.pem   (a pump's --state-dir)
///      NEW/devices/phones/ID/  ID.key, ID.pem, ca.pem              (a phone's --state-dir)
/// ```
/// The device keys in `devices/` were born on the gateway host: whoever read OLD may hold them.
/// They are handed over so the devices keep working; re-enroll each device (a key born on it)
/// when possible, then delete OLD.
public enum PKIMigration {
    public struct Report: Sendable {
        public var pumps: [String] = []
        public var phones: [String] = []
        /// Devices whose old certificate had no key beside it: certificate only, nothing to hand over.
        public var withoutKey: [DeviceIdentity] = []
        public let devicesFolder: URL
    }

    public static func migrate(from old: String, to layout: PKILayout, devices: URL) throws -> Report {
        let fm = FileManager.default
        let source = URL(fileURLWithPath: old, isDirectory: true)
        if fm.fileExists(atPath: source.appendingPathComponent("ca/ca.pem").path) {
            throw PKIError(.alreadyExists, "\(old) already has the two-folder layout (\(old)/ca, \(old)/gateway)")
        }
        for folder in [layout.ca.root, layout.gateway.root, devices] where fm.fileExists(atPath: folder.path) {
            throw PKIError(.alreadyExists, "\(folder.path) exists; migrate into a new folder (nothing was written)")
        }
        // Loading checks that the old CA's certificate and key belong together.
        let ca = try CertificateAuthority.load(from: CADirectory(old))
        var report = Report(devicesFolder: devices)
        func copy(_ name: String, to destination: URL, mode: mode_t) throws {
            let text = try read(source.appendingPathComponent(name))
            try writeFileDurably(text, to: destination, mode: mode)
        }
        try ca.save(to: layout.ca)
        let gateway = layout.gateway
        let caPEM = try read(source.appendingPathComponent("ca.pem"))
        try writeFileDurably(caPEM, to: gateway.caCertificate, mode: 0o644)
        try copy("gateway.pem", to: gateway.gatewayCertificate, mode: 0o644)
        try copy("gateway.key", to: gateway.gatewayKey, mode: 0o600)
        try copy("command.key", to: gateway.commandKey, mode: 0o600)
        try copy("command.pem", to: gateway.commandPublicKey, mode: 0o644)
        let commandPEM = try gateway.commandPublicKeyPEM()
        if fm.fileExists(atPath: source.appendingPathComponent("revoked.txt").path) {
            try copy("revoked.txt", to: gateway.revocationList, mode: 0o644)
        }
        for kind in [DeviceKind.pump, .phone] {
            let folder = source.appendingPathComponent(kind == .pump ? "pumps" : "phones", isDirectory: true)
            let names = ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".pem") }
            for file in names.sorted() {
                let name = String(file.dropLast(4))
                guard DeviceIdentity.validationProblem(name) == nil else { continue }
                let identity = kind.identity(name)
                let certificatePEM = try read(folder.appendingPathComponent(file))
                try writeFileDurably(certificatePEM, to: layout.ca.enrolledCertificate(for: identity), mode: 0o644)
                try writeFileDurably(certificatePEM, to: gateway.certificate(for: identity), mode: 0o644)
                let keyURL = folder.appendingPathComponent("\(name).key")
                guard fm.fileExists(atPath: keyURL.path) else {
                    report.withoutKey.append(identity)
                    continue
                }
                let store = DeviceStore(
                    directory: devices.appendingPathComponent(kind == .pump ? "pumps" : "phones")
                        .appendingPathComponent(name).path,
                    identity: identity
                )
                try writeFileDurably(try read(keyURL), to: store.key, mode: 0o600)
                try writeFileDurably(certificatePEM, to: store.certificate, mode: 0o644)
                try writeFileDurably(caPEM, to: store.caCertificate, mode: 0o644)
                if kind == .pump { try writeFileDurably(commandPEM, to: store.commandPublicKey, mode: 0o644) }
                if kind == .pump { report.pumps.append(name) } else { report.phones.append(name) }
            }
        }
        return report
    }

    private static func read(_ url: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PKIError(.missingFile, "\(url.path) does not exist: is this an old MedTunnel PKI folder?")
        }
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw PKIError(.unreadableFile, "\(url.path) cannot be read: \(error)")
        }
    }
}

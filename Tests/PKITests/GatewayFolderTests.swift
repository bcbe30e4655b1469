import Foundation
import MedTunnelIdentity
import MedTunnelPKI
import MedTunnelTestSupport
import Testing

/// What the gateway refuses to run with (`PKIDirectory.checkGatewayFolder`), and what devices
/// refuse of their own storage.
@Suite("the gateway folder and device storage")
struct GatewayFolderTests {
    func refusal(_ folder: PKIDirectory) throws -> PKIError {
        try #require(throws: PKIError.self) { try folder.checkGatewayFolder() }
    }

    @Test("a folder from pki init with enrolled devices passes: only gateway.key and command.key, mode 0600")
    func cleanFolder() throws {
        let pki = try ThrowawayPKI(pumps: ["PUMP-0001"], phones: ["PHONE-1"])
        defer { pki.remove() }
        try pki.gateway.checkGatewayFolder()
        let keys = try FileManager.default.subpathsOfDirectory(atPath: pki.gateway.root.path)
            .filter { $0.hasSuffix(".key") }.sorted()
        #expect(keys == ["command.key", "gateway.key"])
    }

    @Test("ca.key, or the CA key under another name, is refused naming the file")
    func caKey() throws {
        let pki = try ThrowawayPKI()
        defer { pki.remove() }
        let named = pki.gateway.root.appendingPathComponent("ca.key")
        try FileManager.default.copyItem(at: pki.ca.caKey, to: named)
        var error = try self.refusal(pki.gateway)
        #expect(error.code == .unsafeGatewayFolder)
        #expect(error.reason.contains("\(named.path) is the CA's private key"), "\(error)")
        try FileManager.default.removeItem(at: named)
        let hidden = pki.gateway.root.appendingPathComponent("backup.pem")
        try FileManager.default.copyItem(at: pki.ca.caKey, to: hidden)
        error = try self.refusal(pki.gateway)
        #expect(error.reason.contains("\(hidden.path) is the CA's private key"), "\(error)")
    }

    @Test("a device key left in the gateway folder is refused naming the file")
    func deviceKey() throws {
        let pki = try ThrowawayPKI(pumps: ["PUMP-0001"])
        defer { pki.remove() }
        let leftOver = pki.gateway.root.appendingPathComponent("pumps/PUMP-0001.key")
        try FileManager.default.copyItem(at: pki.keyURL(.pump(serial: "PUMP-0001")), to: leftOver)
        let error = try self.refusal(pki.gateway)
        #expect(error.code == .unsafeGatewayFolder)
        #expect(error.reason.contains("\(leftOver.path) is a private key the gateway must not hold"), "\(error)")
        try FileManager.default.removeItem(at: leftOver)
        // A link to the pump's key, under a name that does not say "key", is a key all the same.
        let link = pki.gateway.root.appendingPathComponent("pumps/PUMP-0001.backup")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: pki.keyURL(.pump(serial: "PUMP-0001")))
        let linked = try self.refusal(pki.gateway)
        #expect(linked.reason.contains("\(link.path) is a private key the gateway must not hold"), "\(linked)")
    }

    @Test("gateway.key or command.key readable by group or others is refused naming the file and chmod 600")
    func keyModes() throws {
        let pki = try ThrowawayPKI()
        defer { pki.remove() }
        for key in [pki.gateway.gatewayKey, pki.gateway.commandKey] {
            for mode in [0o644, 0o640, 0o604] as [Int] {
                try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: key.path)
                let error = try self.refusal(pki.gateway)
                #expect(error.code == .unsafeKeyPermissions)
                #expect(error.reason.contains(key.path) && error.reason.contains("chmod 600"), "\(error)")
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key.path)
        }
        try pki.gateway.checkGatewayFolder()
    }

    @Test("the PKI root is refused, saying to use PKI/gateway")
    func root() throws {
        let pki = try ThrowawayPKI()
        defer { pki.remove() }
        let error = try self.refusal(PKIDirectory(pki.root.path))
        #expect(error.code == .unsafeGatewayFolder)
        #expect(error.reason.contains("--pki \(pki.root.path)/gateway"), "\(error)")
    }

    @Test("a device's key is born in its storage with mode 0600; a key readable by others is refused naming it")
    func deviceKeyMode() throws {
        let pki = try ThrowawayPKI(pumps: ["PUMP-0001"])
        defer { pki.remove() }
        let store = pki.store(.pump(serial: "PUMP-0001"))
        let mode = try FileManager.default.attributesOfItem(atPath: store.key.path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        #expect(try store.credentials().commandPublicKeyPEM == (try pki.gateway.commandPublicKeyPEM()))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: store.key.path)
        let error = try #require(throws: PKIError.self) { try store.credentials() }
        #expect(error.code == .unsafeKeyPermissions)
        #expect(error.reason.contains(store.key.path), "\(error)")
    }

    @Test(
        "--enroll-with keeps a device enrolled with this CA as it is, enrolls the same key again with a new CA, and refuses a second device's key for an enrolled serial"
    )
    func enrollAgain() throws {
        let first = try ThrowawayPKI(pumps: ["PUMP-0001"])
        let second = try ThrowawayPKI()
        defer {
            first.remove()
            second.remove()
        }
        let pump = DeviceIdentity.pump(serial: "PUMP-0001")
        let store = first.store(pump)
        let key = try first.keyPEM(pump)
        let certificate = try first.certificatePEM(pump)
        #expect(try !store.enroll(with: first.layout))
        #expect(try first.certificatePEM(pump) == certificate)
        #expect(try store.enroll(with: second.layout))
        #expect(try first.keyPEM(pump) == key)
        #expect(try store.credentials().caCertificatePEM == second.caCertificatePEM())
        let impostor = second.store(pump)
        let error = try #require(throws: PKIError.self) { try impostor.enroll(with: second.layout) }
        #expect(error.code == .alreadyEnrolled)
    }

    @Test("a device refuses to install a certificate for another key or from another CA")
    func installMismatch() throws {
        let pki = try ThrowawayPKI(pumps: ["PUMP-0001"])
        let other = try ThrowawayPKI(pumps: ["PUMP-0001"])
        defer {
            pki.remove()
            other.remove()
        }
        let store = pki.store(.pump(serial: "PUMP-0001"))
        let foreignKey = try other.certificatePEM(.pump(serial: "PUMP-0001"))
        var error = try #require(throws: PKIError.self) {
            try store.install(certificatePEM: foreignKey, trust: pki.gateway)
        }
        #expect(error.code == .certificateMismatch)
        #expect(error.reason.contains("not for the key in \(store.key.path)"), "\(error)")
        // Its own certificate, but the anchors of another CA.
        error = try #require(throws: PKIError.self) {
            try store.install(certificatePEM: try pki.certificatePEM(.pump(serial: "PUMP-0001")), trust: other.gateway)
        }
        #expect(error.code == .certificateMismatch)
        #expect(error.reason.contains("not signed by the CA"), "\(error)")
    }
}

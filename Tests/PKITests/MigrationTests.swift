import Foundation
import MedTunnelIdentity
import MedTunnelPKI
import MedTunnelTestSupport
import Testing

/// `pki migrate`: an old single-folder PKI (device keys beside the CA) into the two folders.
@Suite("PKI migration")
struct MigrationTests {
    static func snapshot(_ root: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: root.path) {
            var isDirectory: ObjCBool = false
            let url = root.appendingPathComponent(path)
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[path] = try Data(contentsOf: url)
            }
        }
        return files
    }

    @Test(
        "migrate builds ca/, a gateway folder the gateway accepts (device certificates only) and device folders with each key, 0600; the old folder is unchanged"
    )
    func migrate() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("migrate-\(UUID())")
        defer { try? FileManager.default.removeItem(at: base) }
        let old = base.appendingPathComponent("old")
        try OldLayoutPKI.write(at: old, pumps: ["PUMP-0001", "PUMP-0002"], phones: ["PHONE-1"])
        let before = try Self.snapshot(old)
        let layout = PKILayout(root: base.appendingPathComponent("new").path)
        let devices = base.appendingPathComponent("new/devices")

        let report = try PKIMigration.migrate(from: old.path, to: layout, devices: devices)
        #expect(report.pumps == ["PUMP-0001", "PUMP-0002"])
        #expect(report.phones == ["PHONE-1"])
        #expect(try Self.snapshot(old) == before)

        try layout.gateway.checkGatewayFolder()
        _ = try CertificateAuthority.load(from: layout.ca)
        let gatewayKeys = try FileManager.default.subpathsOfDirectory(atPath: layout.gateway.root.path)
            .filter { $0.hasSuffix(".key") }.sorted()
        #expect(gatewayKeys == ["command.key", "gateway.key"])
        #expect(try RevocationList.load(from: layout.gateway).contains(.pump(serial: "PUMP-0001")))
        #expect(try layout.gateway.commandKeyPEM() == String(contentsOf: old.appendingPathComponent("command.key")))
        for identity in [DeviceIdentity.pump(serial: "PUMP-0001"), .pump(serial: "PUMP-0002"), .phone(id: "PHONE-1")] {
            let folder = identity.kind == "pump" ? "pumps" : "phones"
            #expect(FileManager.default.fileExists(atPath: layout.gateway.certificate(for: identity).path))
            #expect(FileManager.default.fileExists(atPath: layout.ca.enrolledCertificate(for: identity).path))
            let store = DeviceStore(
                directory: devices.appendingPathComponent("\(folder)/\(identity.name)").path,
                identity: identity
            )
            let credentials = try store.credentials()
            #expect(
                credentials.privateKeyPEM
                    == before["\(folder)/\(identity.name).key"].map { String(decoding: $0, as: UTF8.self) }
            )
            #expect((credentials.commandPublicKeyPEM != nil) == (identity.kind == "pump"))
            let mode = try FileManager.default.attributesOfItem(atPath: store.key.path)[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600)
        }

        let again = try #require(throws: PKIError.self) {
            try PKIMigration.migrate(from: old.path, to: layout, devices: devices)
        }
        #expect(again.code == .alreadyExists)
    }

    @Test("migrating a folder that is not an old PKI names the missing file")
    func notOld() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("migrate-\(UUID())")
        defer { try? FileManager.default.removeItem(at: base) }
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        let error = try #require(throws: PKIError.self) {
            try PKIMigration.migrate(
                from: base.path,
                to: PKILayout(root: base.appendingPathComponent("new").path),
                devices: base.appendingPathComponent("new/devices")
            )
        }
        #expect(error.code == .missingFile)
        #expect(error.reason.contains("ca.pem"), "\(error)")
    }
}

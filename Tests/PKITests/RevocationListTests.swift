import Foundation
import MedTunnelIdentity
import MedTunnelPKI
import Testing

@Suite("Device identity and revocation list")
struct RevocationListTests {
    @Test("identity URNs round-trip; anything else is refused")
    func identityURNs() {
        #expect(DeviceIdentity(uri: "urn:medtunnel:pump:PUMP-0001") == .pump(serial: "PUMP-0001"))
        #expect(DeviceIdentity(uri: "urn:medtunnel:phone:PHONE.1") == .phone(id: "PHONE.1"))
        #expect(DeviceIdentity.pump(serial: "A1").uri == "urn:medtunnel:pump:A1")
        for bad in [
            "urn:medtunnel:pump:", "urn:medtunnel:pump:-lead", "urn:medtunnel:pump:a/b", "urn:medtunnel:gw:x",
            "URN:medtunnel:pump:x", "urn:medtunnel:pump:" + String(repeating: "a", count: 65),
        ] {
            #expect(DeviceIdentity(uri: bad) == nil, "\(bad)")
        }
    }

    @Test("validation names the problem")
    func validationProblems() {
        #expect(DeviceIdentity.validationProblem("") == "is empty")
        #expect(DeviceIdentity.validationProblem("a b")?.contains("character") == true)
        #expect(DeviceIdentity.validationProblem(String(repeating: "x", count: 65))?.contains("65 bytes") == true)
        #expect(DeviceIdentity.validationProblem("PUMP_0001.a-b") == nil)
    }

    func temporaryPKI() throws -> PKIDirectory {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pki-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return PKIDirectory(path)
    }

    @Test("revoking is durable, idempotent and seen by a watching list without a restart")
    func revokeAndWatch() throws {
        let pki = try self.temporaryPKI()
        defer { try? FileManager.default.removeItem(at: pki.root) }
        let watcher = RevocationListFile(directory: pki)
        #expect(!watcher.isRevoked(.pump(serial: "P1")))  // no file yet: nothing revoked
        try RevocationList.revoke(.pump(serial: "P1"), reason: "lost\twith tab", in: pki)
        try RevocationList.revoke(.pump(serial: "P1"), reason: "again", in: pki)
        let text = try String(contentsOf: pki.revocationList, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 1)
        #expect(watcher.isRevoked(.pump(serial: "P1")))
        #expect(!watcher.isRevoked(.phone(id: "P1")))  // same name, other kind
        try RevocationList.revoke(.phone(id: "PH"), reason: "x", in: pki)
        #expect(watcher.isRevoked(.phone(id: "PH")))
    }

    @Test("an unreadable revocation list refuses everyone (fail closed)")
    func unreadableFailsClosed() throws {
        let pki = try self.temporaryPKI()
        defer { try? FileManager.default.removeItem(at: pki.root) }
        // A directory where the file should be: it exists but cannot be read as a list.
        try FileManager.default.createDirectory(at: pki.revocationList, withIntermediateDirectories: true)
        let watcher = RevocationListFile(directory: pki)
        #expect(watcher.isRevoked(.pump(serial: "ANY-PUMP")))
    }

    @Test("issuing refuses a bad serial and keeps an existing certificate unless forced")
    func issueRules() throws {
        let pki = try self.temporaryPKI()
        defer { try? FileManager.default.removeItem(at: pki.root) }
        try PKIOperations.initialize(pki)
        do {
            try PKIOperations.issue(.pump(serial: "bad serial"), in: pki)
            Issue.record("a serial with a space was accepted")
        } catch let error as PKIError {
            #expect(error.code == .invalidName)
            #expect(error.reason.contains("bad serial"))
        }
        #expect(try PKIOperations.issue(.pump(serial: "P1"), in: pki))
        let first = try String(contentsOf: pki.certificate(for: .pump(serial: "P1")), encoding: .utf8)
        #expect(try PKIOperations.issue(.pump(serial: "P1"), in: pki) == false)
        #expect(try String(contentsOf: pki.certificate(for: .pump(serial: "P1")), encoding: .utf8) == first)
        #expect(try PKIOperations.issue(.pump(serial: "P1"), in: pki, force: true))
        #expect(try String(contentsOf: pki.certificate(for: .pump(serial: "P1")), encoding: .utf8) != first)
        do {
            try PKIOperations.initialize(pki)
            Issue.record("a second init replaced the CA")
        } catch let error as PKIError {
            #expect(error.code == .alreadyExists)
        }
    }
}

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

    @Test("revoking is durable, idempotent and seen by a watching list without a restart")
    func revokeAndWatch() async throws {
        let temporary = try TemporaryPKI(pumps: ["P1"], phones: ["PH"])
        defer { temporary.remove() }
        let pki = temporary.directory
        let watcher = RevocationListFile(directory: pki)
        #expect(!watcher.isRevoked(.pump(serial: "P1")))  // no file yet: nothing revoked
        _ = try await RevocationList.revoke(.pump(serial: "P1"), reason: "lost\twith tab", in: pki) { _ in }
        _ = try await RevocationList.revoke(.pump(serial: "P1"), reason: "again", in: pki) { _ in }
        #expect(try temporary.lines()?.count == 1)
        #expect(watcher.isRevoked(.pump(serial: "P1")))
        #expect(!watcher.isRevoked(.phone(id: "P1")))  // same name, other kind
        _ = try await RevocationList.revoke(.phone(id: "PH"), reason: "x", in: pki) { _ in }
        #expect(watcher.isRevoked(.phone(id: "PH")))
        try await RevocationList.unrevoke(.pump(serial: "P1"), reason: "found", in: pki) { _ in }
        #expect(!watcher.isRevoked(.pump(serial: "P1")))
        #expect(watcher.isRevoked(.phone(id: "PH")))
    }

    @Test("a watching list sees a change that keeps the file's inode, size and modification time")
    func watchSeesSameSizeRewrite() throws {
        let temporary = try TemporaryPKI()
        defer { temporary.remove() }
        let pki = temporary.directory
        try "urn:medtunnel:pump:P1\t1\tlost\n".write(to: pki.revocationList, atomically: false, encoding: .utf8)
        var before = stat()
        #expect(stat(pki.revocationList.path, &before) == 0)
        let watcher = RevocationListFile(directory: pki)
        #expect(watcher.isRevoked(.pump(serial: "P1")))
        // Another version of the same length, written in place, with the old modification time
        // put back: what two changes within one tick of the file system's clock look like.
        let handle = try FileHandle(forWritingTo: pki.revocationList)
        try handle.write(contentsOf: Data("urn:medtunnel:pump:P2\t1\tlost\n".utf8))
        try handle.close()
        var times = [before.st_atim, before.st_mtim]
        #expect(utimensat(AT_FDCWD, pki.revocationList.path, &times, 0) == 0)
        #expect(watcher.isRevoked(.pump(serial: "P2")))
        #expect(!watcher.isRevoked(.pump(serial: "P1")))
    }

    @Test("an unreadable revocation list refuses everyone (fail closed)")
    func unreadableFailsClosed() throws {
        let temporary = try TemporaryPKI()
        defer { temporary.remove() }
        let pki = temporary.directory
        // A directory where the file should be: it exists but cannot be read as a list.
        try FileManager.default.createDirectory(at: pki.revocationList, withIntermediateDirectories: true)
        let watcher = RevocationListFile(directory: pki)
        #expect(watcher.isRevoked(.pump(serial: "ANY-PUMP")))
    }
}

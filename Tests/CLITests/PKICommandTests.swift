import Foundation
import Testing

@Suite("medtunnel pki")
struct PKICommandTests {
    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test("init writes the CA and gateway files, keys with mode 0600, and never overwrites a CA without --force")
    func initialize() throws {
        let tmp = try TemporaryDirectory()
        let dir = tmp.sub("pki")
        let first = try ProcessHarness.medtunnel(["pki", "init", "--dir", dir])
        #expect(first.status == 0, "\(first.stderr)")
        for file in ["ca.pem", "ca.key", "gateway.pem", "gateway.key"] {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(file)"))
        }
        #expect(try self.mode("\(dir)/ca.key") == 0o600)
        #expect(try self.mode("\(dir)/gateway.key") == 0o600)
        let caBefore = try String(contentsOfFile: "\(dir)/ca.pem", encoding: .utf8)

        let again = try ProcessHarness.medtunnel(["pki", "init", "--dir", dir])
        #expect(again.status != 0)
        #expect(again.stderr.contains("--force"))
        #expect(try String(contentsOfFile: "\(dir)/ca.pem", encoding: .utf8) == caBefore)

        let forced = try ProcessHarness.medtunnel(["pki", "init", "--dir", dir, "--force"])
        #expect(forced.status == 0)
        #expect(try String(contentsOfFile: "\(dir)/ca.pem", encoding: .utf8) != caBefore)
    }

    @Test("issue-pump and issue-phone write certificates with the identity and keys with mode 0600")
    func issue() throws {
        let tmp = try TemporaryDirectory()
        let dir = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", dir]).status == 0)
        #expect(try ProcessHarness.medtunnel(["pki", "issue-pump", "--dir", dir, "--serial", "PUMP-0007"]).status == 0)
        #expect(try ProcessHarness.medtunnel(["pki", "issue-phone", "--dir", dir, "--id", "PHONE-9"]).status == 0)
        #expect(try self.mode("\(dir)/pumps/PUMP-0007.key") == 0o600)
        #expect(try self.mode("\(dir)/phones/PHONE-9.key") == 0o600)
        let text = try ProcessHarness.run(
            "/usr/bin/openssl",
            ["x509", "-in", "\(dir)/pumps/PUMP-0007.pem", "-noout", "-text"]
        ).stdout
        #expect(text.contains("URI:urn:medtunnel:pump:PUMP-0007"))
        #expect(text.contains("CN = PUMP-0007"))
        #expect(text.contains("TLS Web Client Authentication"))
        #expect(text.contains("ASN1 OID: prime256v1"))
    }

    @Test("a serial with characters outside the allowed set is refused, naming it")
    func badSerial() throws {
        let tmp = try TemporaryDirectory()
        let dir = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", dir]).status == 0)
        let result = try ProcessHarness.medtunnel(["pki", "issue-pump", "--dir", dir, "--serial", "pump 1/../x"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("pump 1/../x"))
    }
}

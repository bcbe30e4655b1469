import Foundation
import MedTunnelTestSupport
import Testing

/// Keys born on the devices, through the real binary: requests, signing, what the gateway and
/// the devices refuse to run with, migration.
@Suite("enrollment: keys born on the device", .offThePool)
struct EnrollmentProcessTests {
    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    func initialized() throws -> (TemporaryDirectory, String) {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        let result = try ProcessHarness.medtunnel(["pki", "init", "--dir", pki])
        try #require(result.status == 0, "\(result.stderr)")
        return (tmp, pki)
    }

    @Test(
        "pump-sim --csr, pki sign-pump, pump-sim --install: the key stays on the pump (0600), the certificate carries the model and firmware, the gateway folder gets the certificate only"
    )
    func enrollThroughTheCLI() throws {
        let (tmp, pki) = try self.initialized()
        let pump = tmp.sub("pump")
        try ProcessHarness.enrollPump(
            "PUMP-0007",
            pki: pki,
            stateDir: pump,
            model: "Example 0.05 U pump",
            firmware: "2.4.1"
        )
        #expect(try self.mode("\(pump)/PUMP-0007.key") == 0o600)
        for file in ["PUMP-0007.pem", "ca.pem", "command.pem"] {
            #expect(FileManager.default.fileExists(atPath: "\(pump)/\(file)"), "\(file)")
        }
        #expect(FileManager.default.fileExists(atPath: "\(pki)/ca/enrolled/pumps/PUMP-0007.pem"))
        #expect(FileManager.default.fileExists(atPath: "\(pki)/gateway/pumps/PUMP-0007.pem"))
        let keys = try FileManager.default.subpathsOfDirectory(atPath: pki).filter { $0.hasSuffix(".key") }.sorted()
        #expect(keys == ["ca/ca.key", "gateway/command.key", "gateway/gateway.key"])
        let text = try ProcessHarness.run(
            "/usr/bin/openssl",
            ["x509", "-in", "\(pki)/gateway/pumps/PUMP-0007.pem", "-noout", "-text"]
        ).stdout
        #expect(text.contains("URI:urn:medtunnel:pump:PUMP-0007"), "\(text)")
        #expect(text.contains("URI:urn:medtunnel:model:Example%200.05%20U%20pump"))
        #expect(text.contains("URI:urn:medtunnel:firmware:2.4.1"))
        #expect(text.contains("CN = PUMP-0007"))
        #expect(text.contains("TLS Web Client Authentication"))
        #expect(text.contains("ASN1 OID: prime256v1"))
    }

    /// `pki sign-pump` on `csr`; the result.
    func signPump(_ pki: String, csr: String, extra: [String] = []) throws -> ProcessHarness.Result {
        try ProcessHarness.medtunnel(
            ["pki", "sign-pump", "--dir", pki, "--csr", csr, "--model", "M", "--firmware", "1"] + extra
        )
    }

    func openssl(_ arguments: [String]) throws {
        let result = try ProcessHarness.run("/usr/bin/openssl", arguments)
        try #require(result.status == 0, "openssl \(arguments): \(result.stderr)")
    }

    @Test("sign-pump refuses, naming the file: garbage, an RSA or P-384 key, a tampered request, a bad serial")
    func signRefusals() throws {
        let (tmp, pki) = try self.initialized()
        let garbage = tmp.sub("garbage.csr")
        try "not a request".write(toFile: garbage, atomically: true, encoding: .utf8)
        var result = try self.signPump(pki, csr: garbage)
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(garbage) is not a PEM certificate signing request"), "\(result.stderr)")

        let rsa = tmp.sub("rsa.csr")
        try self.openssl([
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp.sub("rsa.key"), "-subj", "/CN=PUMP-0001",
            "-out", rsa,
        ])
        result = try self.signPump(pki, csr: rsa)
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(rsa) carries a key that is not ECDSA P-256"), "\(result.stderr)")

        let p384 = tmp.sub("p384.csr")
        try self.openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes", "-keyout",
            tmp.sub("p384.key"), "-subj", "/CN=PUMP-0001", "-out", p384,
        ])
        result = try self.signPump(pki, csr: p384)
        #expect(result.status != 0)
        #expect(result.stderr.contains("not ECDSA P-256 (ECDSA P-384)"), "\(result.stderr)")

        let bad = tmp.sub("bad-serial.csr")
        try self.openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            tmp.sub("bad.key"), "-subj", "/CN=pump 1", "-out", bad,
        ])
        result = try self.signPump(pki, csr: bad)
        #expect(result.status != 0)
        #expect(result.stderr.contains("the serial 'pump 1' in \(bad)"), "\(result.stderr)")

        // A request made with openssl for a P-256 key is fine; its signature tampered is not.
        let good = tmp.sub("good.csr")
        try self.openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            tmp.sub("good.key"), "-subj", "/CN=PUMP-0002", "-out", good, "-outform", "DER",
        ])
        var der = try Data(contentsOf: URL(fileURLWithPath: good))
        der[der.count - 1] ^= 0x01
        let tampered = tmp.sub("tampered.csr")
        let base64 = der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        try "-----BEGIN CERTIFICATE REQUEST-----\n\(base64)\n-----END CERTIFICATE REQUEST-----\n"
            .write(toFile: tampered, atomically: true, encoding: .utf8)
        result = try self.signPump(pki, csr: tampered)
        #expect(result.status != 0)
        #expect(
            result.stderr.contains("signature of the certificate request \(tampered) does not verify"),
            "\(result.stderr)"
        )
        #expect(!FileManager.default.fileExists(atPath: "\(pki)/gateway/pumps/PUMP-0002.pem"))
    }

    @Test("an enrolled serial is refused without --replace; --replace signs and says so; a bad model is refused")
    func replaceAndModel() throws {
        let (tmp, pki) = try self.initialized()
        try ProcessHarness.enrollPump("PUMP-0001", pki: pki, stateDir: tmp.sub("pump"))
        // A second device claiming the same serial.
        let csr = tmp.sub("other.csr")
        let made = try ProcessHarness.medtunnel([
            "pump-sim", "--state-dir", tmp.sub("other"), "--serial", "PUMP-0001", "--csr", csr,
        ])
        #expect(made.status == 0, "\(made.stderr)")
        var result = try self.signPump(pki, csr: csr)
        #expect(result.status != 0)
        #expect(result.stderr.contains("pump PUMP-0001 is already enrolled"), "\(result.stderr)")
        result = try self.signPump(pki, csr: csr, extra: ["--replace"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("REPLACED the enrollment of pump PUMP-0001"), "\(result.stderr)")
        result = try ProcessHarness.medtunnel([
            "pki", "sign-pump", "--dir", pki, "--csr", csr, "--model", "bad\tmodel", "--firmware", "1", "--replace",
        ])
        #expect(result.status != 0)
        #expect(result.stderr.contains("the model name 'bad\tmodel'"), "\(result.stderr)")
    }

    /// `gateway --pki FOLDER`, expected to refuse to start; its stderr.
    func gatewayRefusal(_ folder: String, _ tmp: TemporaryDirectory) throws -> String {
        let result = try ProcessHarness.medtunnel(
            ["gateway", "--pki", folder, "--state-dir", tmp.sub("state"), "--pump-listen", "127.0.0.1:0"],
            timeout: 30
        )
        #expect(result.status != 0)
        #expect(!result.stdout.contains("listening"))
        return result.stderr
    }

    @Test(
        "the gateway refuses to start with a CA key, a device key, a 0644 key in its folder, or the PKI root, naming the file"
    )
    func gatewayRefuses() throws {
        let (tmp, pki) = try self.initialized()
        let gateway = pki + "/gateway"
        try FileManager.default.copyItem(atPath: "\(pki)/ca/ca.key", toPath: "\(gateway)/ca.key")
        var stderr = try self.gatewayRefusal(gateway, tmp)
        #expect(stderr.contains("\(gateway)/ca.key is the CA's private key"), "\(stderr)")
        try FileManager.default.removeItem(atPath: "\(gateway)/ca.key")

        try ProcessHarness.enrollPump("PUMP-0001", pki: pki, stateDir: tmp.sub("pump"))
        try FileManager.default.copyItem(
            atPath: tmp.sub("pump") + "/PUMP-0001.key",
            toPath: "\(gateway)/pumps/PUMP-0001.key"
        )
        stderr = try self.gatewayRefusal(gateway, tmp)
        #expect(
            stderr.contains("\(gateway)/pumps/PUMP-0001.key is a private key the gateway must not hold"),
            "\(stderr)"
        )
        try FileManager.default.removeItem(atPath: "\(gateway)/pumps/PUMP-0001.key")

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: "\(gateway)/command.key")
        stderr = try self.gatewayRefusal(gateway, tmp)
        #expect(stderr.contains("the private key \(gateway)/command.key has mode 644"), "\(stderr)")
        #expect(stderr.contains("chmod 600 \(gateway)/command.key"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(gateway)/command.key")

        stderr = try self.gatewayRefusal(pki, tmp)
        #expect(stderr.contains("is a PKI root") && stderr.contains("--pki \(gateway)"), "\(stderr)")
        #expect(!FileManager.default.fileExists(atPath: tmp.sub("state") + "/audit.sqlite"))
    }

    @Test("pump-sim and relay refuse their own key when its group or others can read it, naming the file")
    func deviceKeyModes() throws {
        let (tmp, pki) = try self.initialized()
        let pump = tmp.sub("pump")
        try ProcessHarness.enrollPump("PUMP-0001", pki: pki, stateDir: pump)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: "\(pump)/PUMP-0001.key")
        let sim = try ProcessHarness.medtunnel([
            "pump-sim", "--state-dir", pump, "--serial", "PUMP-0001", "--connect", "127.0.0.1:1",
        ])
        #expect(sim.status != 0)
        #expect(sim.stderr.contains("the private key \(pump)/PUMP-0001.key has mode 644"), "\(sim.stderr)")

        let phone = tmp.sub("phone")
        try ProcessHarness.enrollPhone("PHONE-1", pki: pki, stateDir: phone)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: "\(phone)/PHONE-1.key")
        let relay = try ProcessHarness.medtunnel([
            "relay", "--state-dir", phone, "--phone-id", "PHONE-1", "--gateway", "127.0.0.1:1",
        ])
        #expect(relay.status != 0)
        #expect(relay.stderr.contains("the private key \(phone)/PHONE-1.key has mode 640"), "\(relay.stderr)")
    }

    @Test("pki migrate: NEW/gateway starts a gateway, a pump runs from its NEW/devices folder, OLD is kept and named")
    func migrate() throws {
        let tmp = try TemporaryDirectory()
        let old = tmp.sub("old")
        // An old single-folder PKI, as `pki init` and `issue-pump` wrote it before (PUMP-0002 revoked).
        try OldLayoutPKI.write(at: URL(fileURLWithPath: old), pumps: ["PUMP-0002", "PUMP-0001"])
        let new = tmp.sub("new")
        let result = try ProcessHarness.medtunnel(["pki", "migrate", "--from", old, "--dir", new])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("were born on the gateway host"), "\(result.stdout)")
        #expect(result.stdout.contains("\(old) was not changed"))
        #expect(FileManager.default.fileExists(atPath: "\(old)/pumps/PUMP-0001.key"))
        let gateway = try BackgroundProcess(
            ProcessHarness.medtunnel,
            ["gateway", "--pki", new + "/gateway", "--state-dir", tmp.sub("state"), "--pump-listen", "127.0.0.1:0"],
            in: tmp.url,
            name: "gateway"
        )
        defer { gateway.stop() }
        let line = try gateway.waitForLine(containing: "listening for pumps")
        let port = String(line.split(separator: ":").last ?? "")
        let pump = try ProcessHarness.medtunnel([
            "pump-sim", "--state-dir", "\(new)/devices/pumps/PUMP-0001", "--serial", "PUMP-0001", "--connect",
            "127.0.0.1:\(port)", "--telemetry", "2",
        ])
        #expect(pump.status == 0, "\(pump.stderr)")
        #expect(pump.stdout.contains("telemetry acknowledged 2/2"), "\(pump.stdout)")
    }
}

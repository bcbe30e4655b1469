import Foundation
import MedTunnelTestSupport
import Testing

/// The gateway and pumps as separate processes over loopback TCP.
@Suite("gateway and pump-sim over loopback", .offThePool)
struct GatewayProcessTests {
    struct Running {
        let tmp: TemporaryDirectory
        let pki: String
        /// PUMP-0001's own folder (its --state-dir): its key, certificate and anchors.
        let pump: String
        let gateway: BackgroundProcess
        let port: String
    }

    func startGateway() throws -> Running {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        let pump = tmp.sub("pump")
        try ProcessHarness.enrollPump("PUMP-0001", pki: pki, stateDir: pump)
        let gateway = try BackgroundProcess(
            ProcessHarness.medtunnel,
            ["gateway", "--pki", pki + "/gateway", "--state-dir", tmp.sub("state"), "--pump-listen", "127.0.0.1:0"],
            in: tmp.url,
            name: "gateway"
        )
        let line = try gateway.waitForLine(containing: "listening for pumps")
        let port = String(line.split(separator: ":").last ?? "")
        return Running(tmp: tmp, pki: pki, pump: pump, gateway: gateway, port: port)
    }

    @Test("a simulated pump connects, sends telemetry, then resumes its session on reconnect")
    func pumpSimResumes() throws {
        let running = try self.startGateway()
        defer { running.gateway.stop() }
        let result = try ProcessHarness.medtunnel([
            "pump-sim", "--state-dir", running.pump, "--serial", "PUMP-0001", "--connect",
            "127.0.0.1:\(running.port)", "--connections", "2", "--telemetry", "3",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        // The first line is the pump's state (its --state-dir); then one per connection.
        let lines = result.stdout.split(separator: "\n").filter { $0.contains(" connection ") }
        #expect(lines.count == 2)
        #expect(lines.first?.contains("handshake full") == true)
        #expect(lines.last?.contains("handshake resumed") == true)
        #expect(lines.allSatisfy { $0.contains("telemetry acknowledged 3/3") })
        #expect(running.gateway.stderr.contains("resumed=true"))
    }

    @Test("a revoked pump is refused, audited beside the running gateway; unrevoked, it connects again")
    func revokedPump() throws {
        let running = try self.startGateway()
        defer { running.gateway.stop() }
        func pki(_ command: String, reason: String) throws -> ProcessHarness.Result {
            try ProcessHarness.medtunnel([
                "pki", command, "--dir", running.pki, "--serial", "PUMP-0001", "--reason", reason, "--by", "carol",
                "--state-dir", running.tmp.sub("state"),
            ])
        }
        let pumpSim = [
            "pump-sim", "--state-dir", running.pump, "--serial", "PUMP-0001", "--connect",
            "127.0.0.1:\(running.port)",
        ]
        let revoke = try pki("revoke", reason: "reported stolen")
        #expect(revoke.status == 0, "\(revoke.stderr)")
        #expect(revoke.stdout.contains("revoked pump PUMP-0001 (audit entry"), "\(revoke.stdout)")
        let result = try ProcessHarness.medtunnel(pumpSim)
        #expect(result.status != 0)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(running.gateway.stderr.contains("certificateRevoked"))

        let unrevoke = try pki("unrevoke", reason: "found; certificate re-checked")
        #expect(unrevoke.status == 0, "\(unrevoke.stderr)")
        let back = try ProcessHarness.medtunnel(pumpSim)
        #expect(back.status == 0, "\(back.stderr)")
        let audit = try ProcessHarness.medtunnel([
            "audit", "show", "--state-dir", running.tmp.sub("state"), "--pump", "PUMP-0001", "--format", "jsonl",
        ])
        #expect(audit.stdout.contains(#""kind":"pki.revoked""#), "\(audit.stdout)")
        #expect(audit.stdout.contains(#""kind":"pki.unrevoked""#))
    }

    func sClient(_ running: Running, _ extra: [String]) throws -> ProcessHarness.Result {
        try ProcessHarness.run(
            "/usr/bin/openssl",
            ["s_client", "-connect", "127.0.0.1:\(running.port)", "-CAfile", "\(running.pki)/gateway/ca.pem", "-brief"]
                + extra,
            timeout: 20
        )
    }

    @Test("openssl s_client -tls1_2 with a pump certificate completes a handshake")
    func sClientWithPumpCertificate() throws {
        let running = try self.startGateway()
        defer { running.gateway.stop() }
        let result = try self.sClient(
            running,
            ["-tls1_2", "-cert", "\(running.pump)/PUMP-0001.pem", "-key", "\(running.pump)/PUMP-0001.key"]
        )
        #expect(result.stderr.contains("CONNECTION ESTABLISHED"), "\(result.stderr)")
        #expect(result.stderr.contains("ECDHE-ECDSA-AES128-GCM-SHA256"))
    }

    @Test("openssl s_client without a client certificate, with TLS 1.3 only, or with a foreign certificate is refused")
    func sClientRefused() throws {
        let running = try self.startGateway()
        defer { running.gateway.stop() }
        let foreign = running.tmp.sub("foreign")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", foreign]).status == 0)
        let foreignPump = running.tmp.sub("foreign-pump")
        try ProcessHarness.enrollPump("PUMP-0001", pki: foreign, stateDir: foreignPump)
        let cases: [(String, [String])] = [
            ("noPeerCertificate", ["-tls1_2"]),
            (
                "unsupportedProtocolVersion",
                [
                    "-tls1_3", "-cert", "\(running.pump)/PUMP-0001.pem", "-key", "\(running.pump)/PUMP-0001.key",
                ]
            ),
            (
                "certificateRejected",
                ["-tls1_2", "-cert", "\(foreignPump)/PUMP-0001.pem", "-key", "\(foreignPump)/PUMP-0001.key"]
            ),
        ]
        for (code, arguments) in cases {
            let result = try self.sClient(running, arguments)
            #expect(
                !result.stderr.contains("CONNECTION ESTABLISHED") || result.status != 0,
                "\(code): \(result.stderr)"
            )
            Thread.sleep(forTimeInterval: 0.2)
            #expect(running.gateway.stderr.contains("code=\(code)"), "\(code) not in gateway log")
        }
    }
}

import Foundation
import MedTunnelTestSupport
import Testing

/// Gateway, phone relay and simulated pumps as separate processes over loopback.
@Suite("Relay: gateway, relay and pump-sim as processes", .offThePool)
struct RelayProcessTests {
    struct Running {
        let tmp: TemporaryDirectory
        let pki: String
        let gateway: BackgroundProcess
        let relayPort: String
        /// The pumps' own storage (their --state-dir) and the phones'.
        var pumps: String { self.tmp.sub("pumps") }
        var phones: String { self.tmp.sub("phones") }
    }

    func startGateway(pumps: [String], extraArguments: [String] = []) throws -> Running {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        for serial in pumps { try ProcessHarness.enrollPump(serial, pki: pki, stateDir: tmp.sub("pumps")) }
        try ProcessHarness.enrollPhone("PHONE-1", pki: pki, stateDir: tmp.sub("phones"))
        let gateway = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "gateway", "--pki", pki + "/gateway", "--state-dir", tmp.sub("state"), "--pump-listen", "127.0.0.1:0",
                "--relay-listen", "127.0.0.1:0",
            ] + extraArguments,
            in: tmp.url,
            name: "gateway"
        )
        let line = try gateway.waitForLine(containing: "listening for relays")
        return Running(tmp: tmp, pki: pki, gateway: gateway, relayPort: String(line.split(separator: ":").last ?? ""))
    }

    func relayArguments(_ running: Running, phone: String) -> [String] {
        [
            "relay", "--state-dir", running.phones, "--phone-id", phone, "--gateway",
            "127.0.0.1:\(running.relayPort)", "--listen", "127.0.0.1:0",
        ]
    }

    /// Polls the gateway's log (bounded) for `text`.
    func gatewayLogs(_ running: Running, _ text: String) -> Bool { self.logs(running.gateway, text) }

    /// Polls a process's log (bounded, 5 s) for `text`.
    func logs(_ process: BackgroundProcess, _ text: String) -> Bool {
        for _ in 0..<100 {
            if process.stderr.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    @Test("three pump-sim processes through one relay process reach the gateway, carried by the phone")
    func threePumpsThroughRelayProcess() throws {
        let serials = ["PUMP-0001", "PUMP-0002", "PUMP-0003"]
        let running = try self.startGateway(pumps: serials)
        defer { running.gateway.stop() }
        let relay = try BackgroundProcess(
            ProcessHarness.medtunnel,
            self.relayArguments(running, phone: "PHONE-1"),
            in: running.tmp.url,
            name: "relay"
        )
        defer { relay.stop() }
        let line = try relay.waitForLine(containing: "relay: listening for pumps on")
        let relayAddress = String(line.split(separator: " ").last ?? "")

        let pumps = try serials.map { serial in
            try BackgroundProcess(
                ProcessHarness.medtunnel,
                [
                    "pump-sim", "--state-dir", running.pumps, "--serial", serial, "--connect", relayAddress,
                    "--telemetry", "3",
                ],
                in: running.tmp.url,
                name: serial
            )
        }
        defer { for pump in pumps { pump.stop() } }
        for pump in pumps {
            let report = try pump.waitForLine(containing: "connection 1:", timeout: 30)
            #expect(report.contains("handshake full"), "\(report)")
            #expect(report.contains("telemetry acknowledged 3/3"), "\(report)")
        }
        for serial in serials {
            #expect(self.gatewayLogs(running, "device=\(serial)"), "\(serial) not in the gateway log")
        }
        let connected = running.gateway.stderr.split(separator: "\n").filter { $0.contains("pump connected") }
        #expect(connected.count == 3)
        #expect(connected.allSatisfy { $0.contains("via=phone PHONE-1") }, "\(connected)")
        #expect(self.gatewayLogs(running, "relay connected"))
        #expect(self.gatewayLogs(running, "pump disconnected"))
        #expect(!running.gateway.stderr.contains("warning"), "\(running.gateway.stderr)")
        // The relay logs byte counts per link, never contents.
        #expect(self.logs(relay, "bytes_from_pump="), "\(relay.stderr)")
    }

    @Test("a relay with a revoked phone certificate exits non-zero; the gateway logs certificateRevoked")
    func revokedPhoneProcess() throws {
        let running = try self.startGateway(pumps: [])
        defer { running.gateway.stop() }
        let revoke = try ProcessHarness.medtunnel([
            "pki", "revoke", "--dir", running.pki, "--phone-id", "PHONE-1", "--reason", "lost phone", "--by", "carol",
            "--state-dir", running.tmp.sub("state"),
        ])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let result = try ProcessHarness.medtunnel(self.relayArguments(running, phone: "PHONE-1"), timeout: 30)
        #expect(result.status != 0)
        #expect(!result.stdout.contains("listening for pumps"))
        #expect(result.stderr.contains("did not accept phone PHONE-1"), "\(result.stderr)")
        #expect(self.gatewayLogs(running, "code=certificateRevoked"), "\(running.gateway.stderr)")
    }

    @Test("a relay presenting a pump's certificate as its phone certificate is refused (identityRejected)")
    func pumpCertificateAsPhoneProcess() throws {
        let running = try self.startGateway(pumps: ["PUMP-0001"])
        defer { running.gateway.stop() }
        // A "phone" FAKE whose certificate and key are really PUMP-0001's, in the phone's storage.
        for suffix in ["pem", "key"] {
            let phones = running.phones
            try? FileManager.default.removeItem(atPath: "\(phones)/FAKE.\(suffix)")
            try FileManager.default.copyItem(
                atPath: "\(running.pumps)/PUMP-0001.\(suffix)",
                toPath: "\(phones)/FAKE.\(suffix)"
            )
        }
        let result = try ProcessHarness.medtunnel(self.relayArguments(running, phone: "FAKE"), timeout: 30)
        #expect(result.status != 0)
        #expect(!result.stdout.contains("listening for pumps"))
        #expect(self.gatewayLogs(running, "code=identityRejected"), "\(running.gateway.stderr)")
    }
}

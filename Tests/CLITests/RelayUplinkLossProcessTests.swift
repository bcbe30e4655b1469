import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The relay process dies (SIGKILL) under three pumps run by one `pump-sim --count 3`
/// process, and comes back on the same port; and a `relay --hostile` process.
@Suite("Relay processes: uplink loss and a hostile relay", .offThePool)
struct RelayUplinkLossProcessTests {
    let harness = RelayProcessTests()

    /// Polls (bounded) until `condition` holds.
    func eventually(within seconds: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }

    func lines(_ text: String, _ parts: String...) -> [Substring] {
        text.split(separator: "\n").filter { line in parts.allSatisfy { line.contains($0) } }
    }

    func relay(_ running: RelayProcessTests.Running, listen: String, name: String) throws -> (BackgroundProcess, String)
    {
        var arguments = self.harness.relayArguments(running, phone: "PHONE-1")
        arguments[arguments.count - 1] = listen
        let relay = try BackgroundProcess(ProcessHarness.medtunnel, arguments, in: running.tmp.url, name: name)
        let line = try relay.waitForLine(containing: "relay: listening for pumps on")
        return (relay, String(line.split(separator: " ").last ?? ""))
    }

    /// The latest "telemetry acknowledged N" of pump-sim's progress lines.
    func acknowledged(_ pumps: BackgroundProcess) -> Int {
        let line = self.lines(pumps.stdout, "pump-sim: connected").last ?? ""
        guard let range = line.range(of: "telemetry acknowledged ") else { return 0 }
        return Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
    }

    @Test(
        "relay killed under three pumps: the gateway marks them disconnected; relay back on its port: each resumes, continues at its first unacknowledged telemetry, nothing stored twice"
    )
    func relayKilledAndRestarted() throws {
        let serials = ["PUMP-0001", "PUMP-0002", "PUMP-0003"]
        let running = try self.harness.startGateway(pumps: [], extraArguments: ["--log-level", "debug"])
        defer { running.gateway.stop() }
        var (relay, address) = try self.relay(running, listen: "127.0.0.1:0", name: "relay")
        defer { relay.stop() }
        let pumps = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "pump-sim", "--state-dir", running.pumps, "--enroll-with", running.pki, "--count", "3", "--relay",
                address, "--interval", "50", "--progress", "250ms",
            ],
            in: running.tmp.url,
            name: "pumps"
        )
        defer { pumps.stop() }
        let gateway = running.gateway
        #expect(
            self.eventually { self.lines(gateway.stderr, "pump connected", "via=phone PHONE-1").count == 3 },
            "\(gateway.stderr)\n\(pumps.stdout)\n\(pumps.stderr)"
        )
        #expect(self.eventually { self.acknowledged(pumps) >= 30 }, "\(pumps.stdout)")

        kill(relay.process.processIdentifier, SIGKILL)
        relay.process.waitUntilExit()
        for serial in serials {
            #expect(
                self.eventually { !self.lines(gateway.stderr, "device=\(serial) ", "pump disconnected").isEmpty },
                "the gateway did not mark \(serial) disconnected"
            )
            #expect(self.eventually { !self.lines(pumps.stdout, "pump \(serial) link lost").isEmpty })
        }

        (relay, _) = try self.relay(running, listen: address, name: "relay-again")
        for serial in serials {
            #expect(
                self.eventually { !self.lines(pumps.stdout, "pump \(serial) reconnected").isEmpty },
                "\(serial) did not reconnect: \(pumps.stdout)"
            )
            // The pump continues right after the last telemetry the gateway acknowledged.
            let stdout = pumps.stdout.split(separator: "\n")
            let reconnected = try #require(stdout.firstIndex { $0.contains("pump \(serial) reconnected") })
            #expect(stdout[reconnected].contains("handshake resumed"), "\(stdout[reconnected])")
            let lost = try #require(stdout[..<reconnected].last { $0.contains("pump \(serial) link lost") })
            let acknowledged = try #require(Int(lost.split(separator: " after ").last?.prefix { $0.isNumber } ?? ""))
            #expect(stdout[reconnected].hasSuffix("telemetry continues at sequence \(acknowledged + 1)"))
            // Confirmed by the gateway: a resumed session after the disconnection.
            #expect(
                self.eventually {
                    let log = gateway.stderr.split(separator: "\n")
                    guard
                        let disconnected = log.firstIndex(where: {
                            $0.contains("device=\(serial) ") && $0.contains("pump disconnected")
                        })
                    else {
                        return false
                    }
                    return log[disconnected...].contains {
                        $0.contains("device=\(serial) ") && $0.contains("resumed=true") && $0.contains("pump connected")
                    }
                },
                "\(serial): no resumed session in the gateway log"
            )
        }
        let atReconnect = self.acknowledged(pumps)
        #expect(self.eventually { self.acknowledged(pumps) >= atReconnect + 30 }, "telemetry did not continue")
        // At most the one telemetry in flight when the relay died reaches the gateway twice
        // (sent, stored, its acknowledgement lost); the gateway stores it once.
        for serial in serials {
            let duplicates = self.lines(gateway.stderr, "device=\(serial) ", "duplicate telemetry ignored").count
            #expect(duplicates <= 1, "\(serial): \(duplicates) duplicates")
        }
        #expect(self.lines(gateway.stderr, "pump connected").count == 6)
    }

    @Test(
        "relay --hostile: a bad spec names its token; flipping link 1's first telemetry ends that pump's tunnel (recordRejected) while link 2 works"
    )
    func hostileRelayProcess() throws {
        let running = try self.harness.startGateway(pumps: ["PUMP-0001", "PUMP-0002"])
        defer { running.gateway.stop() }
        let base = self.harness.relayArguments(running, phone: "PHONE-1")
        let bad = try ProcessHarness.medtunnel(base + ["--hostile", "flip=0.5,flp=1"], timeout: 30)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("'flp=1'") && bad.stderr.contains("neither a behaviour"), "\(bad.stderr)")

        let relay = try BackgroundProcess(
            ProcessHarness.medtunnel,
            base + ["--hostile", "flip,records=app,after=1,count=1,link=1", "--hostile-seed", "7"],
            in: running.tmp.url,
            name: "hostile-relay"
        )
        defer { relay.stop() }
        #expect(try relay.waitForLine(containing: "relay: HOSTILE").contains("seed 7"))
        let address = String(
            try relay.waitForLine(containing: "listening for pumps on").split(separator: " ").last ?? ""
        )
        func pump(_ serial: String) throws -> ProcessHarness.Result {
            try ProcessHarness.medtunnel(
                [
                    "pump-sim", "--state-dir", running.pumps, "--serial", serial, "--relay", address, "--telemetry",
                    "3",
                ],
                timeout: 60
            )
        }
        let victim = try pump("PUMP-0001")
        #expect(victim.status != 0 && !victim.stdout.contains("connection 1:"), "\(victim.stdout)\(victim.stderr)")
        let other = try pump("PUMP-0002")
        #expect(
            other.status == 0 && other.stdout.contains("telemetry acknowledged 3/3"),
            "\(other.stdout)\(other.stderr)"
        )

        let gateway = running.gateway
        #expect(
            self.eventually(within: 10) {
                !self.lines(gateway.stderr, "device=PUMP-0001", "code=recordRejected").isEmpty
            },
            "\(gateway.stderr)"
        )
        #expect(self.lines(gateway.stderr, "device=PUMP-0002", "TLS refused").isEmpty)
        let acted = self.lines(relay.stderr, "hostile relay: flip")
        #expect(acted.count == 1 && acted[0].contains("link=1") && acted[0].contains("dir=up"), "\(relay.stderr)")
    }
}

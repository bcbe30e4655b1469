import Foundation
import MedTunnelTestSupport
import Testing

/// `medtunnel gateway --checkpoint-interval`: the gateway signs its own entries on a timer and at
/// shutdown, as `medtunnel audit verify` sees it from beside the running gateway.
@Suite("gateway: checkpoints on a timer", .offThePool)
struct CheckpointTimerProcessTests {
    static func verify(_ state: String) throws -> String {
        let verified = try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", state])
        #expect(verified.status == 0, "\(verified.stderr)")
        return verified.stdout
    }

    @Test("a refused handshake's security event is covered by a checkpoint within the interval")
    func interval() throws {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        let state = tmp.sub("state")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        #expect(
            try ProcessHarness.medtunnel([
                "gateway", "--pki", pki + "/gateway", "--state-dir", state, "--checkpoint-interval", "ten",
            ])
            .stderr.contains("--checkpoint-interval 'ten' is not a duration")
        )
        let gateway = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "gateway", "--pki", pki + "/gateway", "--state-dir", state, "--pump-listen", "127.0.0.1:0",
                "--checkpoint-interval", "200ms",
            ],
            in: tmp.url,
            name: "gateway"
        )
        defer { gateway.stop() }
        let line = try gateway.waitForLine(containing: "listening for pumps")
        let port = String(line.split(separator: ":").last ?? "")
        // No client certificate: the gateway refuses the handshake and audits a security event.
        _ = try ProcessHarness.run(
            "/usr/bin/openssl",
            ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", "\(pki)/gateway/ca.pem", "-tls1_2", "-brief"],
            timeout: 20
        )
        // Wait for the outcome (not a guessed time): verify until a checkpoint covers the log.
        var output = ""
        let deadline = Date().addingTimeInterval(15)
        repeat {
            Thread.sleep(forTimeInterval: 0.1)
            output = try Self.verify(state)
        } while (output.contains(" 0 checkpoints") || output.contains("not yet covered")) && Date() < deadline
        #expect(!output.contains(" 0 checkpoints") && !output.contains("not yet covered"), "\(output)")
        #expect(!output.contains("verified 0 entries"), "\(output)")
        gateway.stop()
        #expect(gateway.process.terminationStatus == 0, "\(gateway.stderr)")
        #expect(!(try Self.verify(state)).contains("not yet covered"))
        withExtendedLifetime(tmp) {}
    }
}

import Foundation
import MedTunnelTestSupport
import Testing

/// Three gateway nodes on one PostgreSQL database behind a real HAProxy, two phone relays and a
/// pump fleet, with changes submitted round robin to every node; one node SIGKILLed under load
/// and another SIGSTOPped past its lease (tools/cluster-fleet, which checks everything from the
/// database, the audit log and the pumps' own state files, and prints one JSON verdict).
@Suite("Three gateway nodes behind HAProxy: a fleet through a kill and a pause", .offThePool)
struct ClusterFleetTests {
    @Test(
        "changes round robin to three nodes, one killed and one stopped past its lease: every change applied once or explicitly not applied, no sequence used twice, the pumps agree with the log, all back within the bound, and the log verifies"
    )
    func killAndPause() throws {
        let out = try TemporaryDirectory()
        let run = try ChildProcess.run(
            BenchmarkSmokeTests.repository.appendingPathComponent("tools/cluster-fleet").path,
            [],
            timeout: 600,
            environment: [
                "BIN": ProcessHarness.medtunnel, "OUT": out.sub("fleet"), "NODES": "3", "RELAYS": "2", "PUMPS": "24",
                "CHANGES": "120", "CLIENTS": "6", "LEASE": "2s", "RECOVER_BOUND": "45",
            ]
        )
        let line = try #require(run.stdout.split(separator: "\n").last, "\(run.stderr)")
        let verdict = try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            "\(run.stdout)\n\(run.stderr)"
        )
        #expect(verdict["ok"] as? Bool == true, "\(verdict["problems"] ?? "")\n\(run.stderr.suffix(3000))")
        #expect(run.status == 0)
        let states = verdict["states"] as? [String: Int] ?? [:]
        // Nearly all apply: only a command in flight on a node that died can end not applied.
        #expect((states["applied"] ?? 0) >= 100, "\(states)")
        #expect((verdict["pumpsOnKilled"] as? Int ?? 0) > 0, "the killed node carried no pumps: \(verdict)")
        print("cluster fleet: \(line)")
    }
}

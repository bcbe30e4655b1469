import Foundation
import MedTunnelTestSupport
import Testing

/// Every script under tools/bench still runs and prints its table (tools/bench/smoke, a tiny
/// configuration of each, against the debug build): a benchmark that rots is found by CI, not
/// by the person who needs its figures.
@Suite("Benchmarks: each script still runs", .offThePool)
struct BenchmarkSmokeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("tools/bench/smoke: handshake, audit, lockout, changes, relay and cluster each print their table")
    func smoke() throws {
        let run = try ChildProcess.run(
            Self.repository.appendingPathComponent("tools/bench/smoke").path,
            [],
            timeout: 900,
            environment: ["BIN": ProcessHarness.medtunnel]
        )
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        for name in ["handshake", "audit", "lockout", "changes", "relay", "cluster"] {
            #expect(run.stdout.contains("smoke: \(name) ok"), "\(run.stdout)")
        }
    }
}

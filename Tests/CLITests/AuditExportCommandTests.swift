import AuditLog
import Foundation
import MedTunnelTestSupport
import Testing

/// `medtunnel audit export` run as a process, as an operator would beside a gateway.
@Suite("medtunnel audit export", .offThePool)
struct AuditExportCommandTests {
    /// A state directory with a log of `count` entries.
    static func stateDirectory(entries count: Int) async throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("export-cli-\(UUID().uuidString)")
            .path
        let log = try await AuditLog.open(stateDirectory: directory)
        for step in 0..<count {
            let payload = "{\"step\":\(step),\"note\":\"a, \\\"b\\\"\\n\"}"
            _ = try await log.append(
                try AuditEvent(
                    timeMilliseconds: 1_769_846_400_000 + Int64(step),
                    actor: try AuditActor(id: "olga", role: "operator"),
                    kind: step % 2 == 0 ? .configChanged : .securityEvent,
                    pumpSerial: "PUMP-000\(step % 3)",
                    payload: Array(payload.utf8)
                )
            )
        }
        return directory
    }

    static func lastEntry(_ directory: String) async throws -> (size: UInt64, entry: AuditEntry) {
        let log = try await AuditLog.openExisting(stateDirectory: directory)
        let size = try await log.storedSize()
        return (size, try #require(try await log.entries(in: size - 1..<size).first))
    }

    @Test("jsonl to stdout: one line per entry of the log, then the export is recorded as audit.export by --by")
    func jsonlStdout() async throws {
        let directory = try await Self.stateDirectory(entries: 25)
        let result = try ProcessHarness.medtunnel([
            "audit", "export", "--state-dir", directory, "--format", "jsonl", "--by", "carol", "--progress-every", "10",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 25)
        #expect(result.stderr.contains("25 entries scanned, 25 written"), "\(result.stderr)")
        #expect(result.stderr.contains("recorded as audit.export at index 25"), "\(result.stderr)")
        let (size, last) = try await Self.lastEntry(directory)
        #expect(size == 26)
        #expect(last.event.kind == .export && last.event.actor.id == "carol")
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(last.event.payload)) as? [String: Any])
        #expect(payload["count"] as? Int == 25 && payload["format"] as? String == "jsonl")
    }

    @Test("--out writes the file whole (no temp file left), filtered, and the export is recorded")
    func outFile() async throws {
        let directory = try await Self.stateDirectory(entries: 12)
        let out = directory + "/export.fhir.json"
        let result = try ProcessHarness.medtunnel([
            "audit", "export", "--state-dir", directory, "--format", "fhir", "--pump", "PUMP-0001", "--out", out,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        let bundle = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any]
        )
        #expect((bundle["entry"] as? [Any])?.count == 4)  // steps 1, 4, 7, 10
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
        let (_, last) = try await Self.lastEntry(directory)
        #expect(last.event.kind == .export && last.event.pumpSerial == "PUMP-0001")
    }

    @Test("a bad format or filter is refused, naming the option, and nothing is recorded")
    func refusals() async throws {
        let directory = try await Self.stateDirectory(entries: 3)
        for (arguments, option) in [(["--format", "xml"], "--format"), (["--since", "yesterday"], "--since")] {
            let result = try ProcessHarness.medtunnel(["audit", "export", "--state-dir", directory] + arguments)
            #expect(result.status != 0)
            #expect(result.stderr.contains(option), "\(result.stderr)")
        }
        let missing = try ProcessHarness.medtunnel(["audit", "export", "--state-dir", directory + "/nope"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no audit database"), "\(missing.stderr)")
        #expect(try await Self.lastEntry(directory).size == 3)
    }
}

import Foundation
import MedTunnelTestSupport
import Testing

/// The README's ten-minute tour, run as written: the shell block between `<!-- tour:begin -->`
/// and `<!-- tour:end -->`, in a fresh directory with `medtunnel` on PATH, so the front page
/// cannot drift from what the code does.
@Suite("README: the ten-minute tour runs as written", .offThePool)
struct ReadmeTourTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func tour() throws -> String {
        let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        let begin = try #require(readme.range(of: "<!-- tour:begin -->"))
        let end = try #require(readme.range(of: "<!-- tour:end -->"))
        return readme[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("```") }.joined(separator: "\n")
    }

    @Test(
        "pair, prescribe, a bolus applied and one rejected, a two-person lockout, the log shown, verified, exported, an invitation"
    )
    func tourRuns() throws {
        let tmp = try TemporaryDirectory()
        try FileManager.default.createSymbolicLink(
            at: tmp.url.appendingPathComponent("Examples"),
            withDestinationURL: Self.repository.appendingPathComponent("Examples")
        )
        let script = tmp.sub("tour.sh")
        try Self.tour().write(toFile: script, atomically: true, encoding: .utf8)
        let bin = URL(fileURLWithPath: ProcessHarness.medtunnel).deletingLastPathComponent().path
        let run = try ChildProcess.run(
            "/bin/bash",
            [
                "-c",
                // Whatever happens, the tour's gateway and pump do not outlive it (they hold fixed ports).
                "cd '\(tmp.url.path)' && trap 'kill $(jobs -p) 2>/dev/null' EXIT && set -e -o pipefail && source tour.sh",
            ],
            timeout: 300,
            environment: ["PATH": "\(bin):" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        )
        let gatewayLog = (try? String(contentsOfFile: tmp.sub("gateway.log"), encoding: .utf8)) ?? ""
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)\ngateway:\n\(gatewayLog.suffix(2000))")
        for line in [
            #""patientId":"patient-001""#, "prescription: 200", "bolus 2000 mU: 20",  // 201; 202 (held) if the pump's first report is late on a loaded machine "bolus 12000 mU: 422", " lifted: pump:PUMP-0001",
            "command.acknowledged", "/console/invite/",
        ] {
            #expect(run.stdout.contains(line), "the tour's output lacks '\(line)':\n\(run.stdout)")
        }
        #expect(run.stderr.contains("audit export: ") || run.stdout.contains("audit export: "))
        #expect(run.stdout.contains("verified ") || run.stderr.contains("verified "))
        let export = try String(contentsOfFile: tmp.sub("audit-fhir.json"), encoding: .utf8)
        #expect(export.contains(#""resourceType""#) && export.contains("AuditEvent"))
    }

    @Test("every relative link in the README and docs/ names a file that exists")
    func linksResolve() throws {
        var pages = [Self.repository.appendingPathComponent("README.md")]
        let docs = Self.repository.appendingPathComponent("docs")
        pages += try FileManager.default.contentsOfDirectory(at: docs, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "md" }
        let link = /\]\(([^)#\s]+)(#[^)]*)?\)/
        for page in pages {
            let text = try String(contentsOf: page, encoding: .utf8)
            for match in text.matches(of: link) {
                let target = String(match.1)
                guard !target.contains("://"), !target.hasPrefix("mailto:") else { continue }
                let resolved = page.deletingLastPathComponent().appendingPathComponent(target).standardizedFileURL
                #expect(
                    FileManager.default.fileExists(atPath: resolved.path),
                    "\(page.lastPathComponent) links to \(target), which does not exist"
                )
            }
        }
    }
}

import Foundation
import MedTunnelTestSupport
import Testing

/// The console's passkey flow in a real browser: Debian's Chromium driven by Playwright
/// (tools/console-browser-test.py, in the virtual environment tools/setup makes) with the
/// DevTools virtual authenticator, against a gateway process run with --console. Missing
/// Chromium or Playwright fails the test: run tools/setup.
@Suite("Console: passkeys in Chromium")
struct ConsoleBrowserTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = repository.appendingPathComponent("tools/console-browser-test.py").path
    static let python =
        (ProcessInfo.processInfo.environment["MEDTUNNEL_BROWSER_VENV"] ?? "/opt/medtunnel/browser-venv") + "/bin/python"

    @Test("invite → register → sign in → whoami → step-up → sign out, in headless Chromium")
    func browserFlow() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"),
            "/usr/bin/chromium is missing: run tools/setup"
        )
        let probe = try ChildProcess.run(Self.python, ["-c", "import playwright.sync_api"], timeout: 60)
        try #require(probe.status == 0, "\(Self.python) cannot import playwright: run tools/setup")

        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        let state = tmp.sub("state")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        #expect(
            try ProcessHarness.medtunnel(["user", "add", "--state-dir", state, "--id", "olga", "--role", "operator"])
                .status == 0
        )
        let gateway = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "gateway", "--pki", pki + "/gateway", "--state-dir", state, "--pump-listen", "127.0.0.1:0",
                "--api-listen", "127.0.0.1:0", "--console",
            ],
            in: tmp.url,
            name: "gateway"
        )
        let line = try gateway.waitForLine(containing: "gateway: console on ")
        let signin = String(line.split(separator: " ").last ?? "")
        let origin = String(signin.dropLast("/console/signin".count))
        #expect(origin.hasPrefix("http://localhost:"))
        let invite = try ProcessHarness.medtunnel([
            "user", "invite", "--state-dir", state, "--id", "olga", "--origin", origin,
        ])
        #expect(invite.status == 0, "\(invite.stderr)")
        let url = invite.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let run = try ChildProcess.run(Self.python, [Self.script, origin, url, "olga"], timeout: 180)
        #expect(run.status == 0, "browser:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("browser flow passed"), "\(run.stdout)")

        let audit = try ProcessHarness.medtunnel(["audit", "show", "--state-dir", state, "--format", "jsonl"])
        for kind in ["account.invited", "passkey.registered", "console.signin", "console.stepup", "console.signout"] {
            #expect(audit.stdout.contains(#""kind":"\#(kind)""#), "\(kind) not in the audit log")
        }
        #expect(!audit.stdout.contains(String(url.split(separator: "/").last ?? "")))
    }
}

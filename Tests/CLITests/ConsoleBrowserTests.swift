import Foundation
import MedTunnelTestSupport
import Testing

/// The web console's whole story in a real browser: Debian's Chromium driven by Playwright
/// (tools/console-browser-test.py, in the virtual environment tools/setup makes) with the
/// DevTools virtual authenticator standing in for each person's passkey, against real
/// processes: `medtunnel gateway --console`, `relay`, `pump-sim`. Missing Chromium or
/// Playwright fails the test: run tools/setup. Screenshots of each page are saved under
/// `.build/test-artifacts/console/`.
@Suite("Console: the operators' story in Chromium", .offThePool)
struct ConsoleBrowserTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = repository.appendingPathComponent("tools/console-browser-test.py").path
    static let screenshots = repository.appendingPathComponent(".build/test-artifacts/console").path
    static let python =
        (ProcessInfo.processInfo.environment["MEDTUNNEL_BROWSER_VENV"] ?? "/opt/medtunnel/browser-venv") + "/bin/python"
    /// Short, so the test can show a stale passkey refused without waiting five minutes.
    static let stepUpWindowSeconds = 8

    @Test(
        "invite → register → sign in → pumps → approve a held change (step-up and CSRF required) → audit search and in-browser verify → lockout started and lifted by two people → sign out"
    )
    func story() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"),
            "/usr/bin/chromium is missing: run tools/setup"
        )
        let probe = try ChildProcess.run(Self.python, ["-c", "import playwright.sync_api"], timeout: 60)
        try #require(probe.status == 0, "\(Self.python) cannot import playwright: run tools/setup")

        var setup = try ChangeProcessTests.Setup()
        for (id, role) in [("olga", "operator"), ("ines", "incident"), ("ivan", "incident")] {
            _ = try ChangeProcessTests.Setup.medtunnel([
                "user", "add", "--state-dir", setup.state, "--id", id, "--role", role,
            ])
            setup.tokens[id] = try ChangeProcessTests.Setup.medtunnel([
                "token", "issue", "--state-dir", setup.state, "--user", id, "--ttl", "15m",
            ])
        }
        let (gateway, api) = try setup.startGateway(
            name: "gateway",
            arguments: ["--console", "--console-step-up-window", "\(Self.stepUpWindowSeconds)s"]
        )
        defer { gateway.stop() }
        let line = try gateway.waitForLine(containing: "gateway: console on ")
        let origin = String(String(line.split(separator: " ").last ?? "").dropLast("/console/signin".count))
        #expect(origin.hasPrefix("http://localhost:"))

        // A pump through a relay, paired to alice's patient, with a prescription and telemetry;
        // drsmith asks for a change the policy holds for a second clinician.
        let (relay, pump) = try await setup.connectPairedPump(gateway, api: api)
        defer {
            pump.stop()
            relay.stop()
        }
        let (heldStatus, held) = try await api.submit(
            "{\"kind\": \"set_suspend_threshold\", \"mgdL\": 85}",
            token: setup.tokens["drsmith"]!
        )
        #expect(heldStatus == 202, "\(held)")
        let change = try #require(held["id"] as? String)

        var invites: [String: String] = [:]
        for user in ["drjones", "olga", "ines", "ivan"] {
            invites[user] = try ChangeProcessTests.Setup.medtunnel([
                "user", "invite", "--state-dir", setup.state, "--id", user, "--origin", origin,
            ])
        }
        let storyFile = setup.tmp.sub("story.json")
        try JSONSerialization.data(
            withJSONObject: [
                "origin": origin, "invites": invites, "change": change,
                "stepUpWindowSeconds": Self.stepUpWindowSeconds, "screenshots": Self.screenshots,
            ] as [String: Any]
        ).write(to: URL(fileURLWithPath: storyFile))
        let run = try ChildProcess.run(Self.python, [Self.script, storyFile], timeout: 420)
        #expect(run.status == 0, "browser:\n\(run.stdout)\n\(run.stderr)\ngateway:\n\(gateway.stderr.suffix(3000))")
        #expect(run.stdout.contains("browser story passed"), "\(run.stdout)")
        for page in [
            "overview", "pumps", "pump", "changes", "changes-approved", "audit", "checkpoints", "lockout-lifted",
        ] {
            #expect(
                FileManager.default.fileExists(atPath: "\(Self.screenshots)/\(page).png"),
                "no screenshot of \(page)"
            )
        }

        let audit = try ProcessHarness.medtunnel(["audit", "show", "--state-dir", setup.state, "--format", "jsonl"])
        for kind in [
            "account.invited", "passkey.registered", "console.signin", "console.stepup", "console.signout",
            "change.approved", "lockout.started", "lockout.lifted",
        ] {
            #expect(audit.stdout.contains(#""kind":"\#(kind)""#), "\(kind) not in the audit log")
        }
        for url in invites.values {
            #expect(
                !audit.stdout.contains(String(url.split(separator: "/").last ?? "")),
                "an invitation token was logged"
            )
        }
        let reads = audit.stdout.split(separator: "\n").filter { $0.contains(#""kind":"access.read""#) }
        #expect(reads.contains { $0.contains("/console/") }, "console reads are recorded as access.read")
    }
}

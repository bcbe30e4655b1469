import Foundation
import MedTunnelTestSupport
import Testing

/// `medtunnel user invite`: a one-time console link for an existing, enabled account.
@Suite("medtunnel user invite", .offThePool)
struct UserInviteCommandTests {
    func run(_ arguments: [String]) throws -> ProcessHarness.Result {
        try ProcessHarness.medtunnel(arguments)
    }

    @Test("prints ORIGIN/console/invite/TOKEN once, logs account.invited without the token, stores only its hash")
    func invite() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        #expect(try run(["user", "add", "--state-dir", state, "--id", "olga", "--role", "operator"]).status == 0)
        let invited = try run([
            "user", "invite", "--state-dir", state, "--id", "olga", "--origin", "https://console.example.org",
        ])
        #expect(invited.status == 0, "\(invited.stderr)")
        let url = invited.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasPrefix("https://console.example.org/console/invite/"))
        let token = String(url.split(separator: "/").last ?? "")
        #expect(token.count == 43)
        #expect(invited.stderr.contains("valid once"))

        let audit = try run(["audit", "show", "--state-dir", state, "--format", "jsonl"])
        #expect(audit.stdout.contains(#""kind":"account.invited""#))
        #expect(!audit.stdout.contains(token))
        let database = try Data(contentsOf: URL(fileURLWithPath: state + "/passkeys.sqlite"))
        #expect(database.range(of: Data(token.utf8)) == nil)
        #expect(try run(["audit", "verify", "--state-dir", state]).status == 0)

        // Two invitations are two different links.
        let second = try run(["user", "invite", "--state-dir", state, "--id", "olga"])
        #expect(second.status == 0 && second.stdout.hasPrefix("/console/invite/") && !second.stdout.contains(token))
    }

    @Test("an unknown or disabled account gets no invitation (exit 1); a bad origin exit 2")
    func refused() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        #expect(try run(["user", "add", "--state-dir", state, "--id", "olga", "--role", "operator"]).status == 0)
        let unknown = try run(["user", "invite", "--state-dir", state, "--id", "nobody"])
        #expect(unknown.status == 1 && unknown.stderr.contains("no such account"))
        #expect(try run(["user", "disable", "--state-dir", state, "--id", "olga"]).status == 0)
        let disabled = try run(["user", "invite", "--state-dir", state, "--id", "olga"])
        #expect(disabled.status == 1 && disabled.stderr.contains("disabled"))
        let origin = try run(["user", "invite", "--state-dir", state, "--id", "olga", "--origin", "http://10.0.0.1"])
        #expect(origin.status == 2 && origin.stderr.contains("IP address"))
    }
}

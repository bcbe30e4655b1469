import Foundation
import MedTunnelTestSupport
import Testing

/// `medtunnel user` and `medtunnel token` as a user runs them.
@Suite("medtunnel user and token", .offThePool)
struct UserCommandTests {
    func run(_ arguments: [String]) throws -> ProcessHarness.Result {
        try ProcessHarness.medtunnel(arguments)
    }

    @Test("user add, list, disable; every change in the audit log")
    func lifecycle() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        let added = try run([
            "user", "add", "--state-dir", state, "--id", "alice", "--role", "patient",
            "--attr", "patient=patient-001", "--attr", "phone=PHONE-1",
        ])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(
            added.stdout.contains("user alice added: role patient, patient=patient-001 phone=PHONE-1")
        )
        #expect(
            try run([
                "user", "add", "--state-dir", state, "--id", "drsmith", "--role", "clinician", "--attr",
                "patient=patient-001",
            ]).status == 0
        )

        let list = try run(["user", "list", "--state-dir", state])
        #expect(list.status == 0)
        #expect(list.stdout.contains("alice") && list.stdout.contains("drsmith") && list.stdout.contains("active"))

        let disabled = try run(["user", "disable", "--state-dir", state, "--id", "drsmith"])
        #expect(disabled.status == 0 && disabled.stdout.contains("user drsmith disabled"))
        let json = try run(["user", "list", "--state-dir", state, "--format", "jsonl"])
        #expect(json.stdout.contains(#""disabled":true"#) && json.stdout.contains(#""id":"drsmith""#))

        let audit = try run(["audit", "show", "--state-dir", state, "--format", "jsonl"])
        // Count entries by their kind field: each entry's summary names its kind too.
        #expect(audit.stdout.components(separatedBy: #""kind":"account.created""#).count - 1 == 2)
        #expect(audit.stdout.contains("account.disabled"))
        #expect(try run(["audit", "verify", "--state-dir", state]).status == 0)
    }

    @Test("user add --attr pump=… is refused, pointing to pairing")
    func pumpAttributeRetired() throws {
        let tmp = try TemporaryDirectory()
        let refused = try run([
            "user", "add", "--state-dir", tmp.sub("state"), "--id", "alice", "--role", "patient",
            "--attr", "patient=patient-001", "--attr", "pump=PUMP-0001",
        ])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("pump= is retired") && refused.stderr.contains("pairing"), "\(refused.stderr)")
    }

    @Test("bad input is refused naming it: unknown role, malformed attribute, duplicate id, unknown user")
    func errors() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        let role = try run(["user", "add", "--state-dir", state, "--id", "x", "--role", "doctor"])
        #expect(role.status == 2)
        #expect(role.stderr.contains("role 'doctor': unknown; use one of patient, caregiver, clinician"))

        let attribute = try run([
            "user", "add", "--state-dir", state, "--id", "x", "--role", "clinician", "--attr", "patient",
        ])
        #expect(attribute.status == 2 && attribute.stderr.contains("attribute 'patient': expected KEY=VALUE"))

        let key = try run(["user", "add", "--state-dir", state, "--id", "x", "--role", "clinician", "--attr", "ward=3"])
        #expect(key.status == 2 && key.stderr.contains("unknown key 'ward'"))

        let missing = try run(["user", "add", "--state-dir", state, "--id", "x", "--role", "patient"])
        #expect(missing.status == 2 && missing.stderr.contains("needs exactly one patient=ID"))

        let id = try run(["user", "add", "--state-dir", state, "--id", "bad id", "--role", "admin"])
        #expect(id.status == 2 && id.stderr.contains("user id 'bad id'"))

        #expect(try run(["user", "add", "--state-dir", state, "--id", "ops", "--role", "operator"]).status == 0)
        let duplicate = try run(["user", "add", "--state-dir", state, "--id", "ops", "--role", "operator"])
        #expect(duplicate.status == 1 && duplicate.stderr.contains("user 'ops' exists already"))

        let unknown = try run(["user", "disable", "--state-dir", state, "--id", "ghost"])
        #expect(unknown.status == 1 && unknown.stderr.contains("user 'ghost': no such account"))
    }

    @Test("token issue prints only a JWT; bad ttl, unknown and disabled users are refused")
    func tokens() throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        #expect(
            try run(["user", "add", "--state-dir", state, "--id", "alice", "--role", "patient", "--attr", "patient=p1"])
                .status == 0
        )
        let issued = try run(["token", "issue", "--state-dir", state, "--user", "alice", "--ttl", "15m"])
        #expect(issued.status == 0, "\(issued.stderr)")
        let lines = issued.stdout.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].split(separator: ".").count == 3)
        let key = try FileManager.default.attributesOfItem(atPath: state + "/token-signing-key.pem")
        #expect((key[.posixPermissions] as? Int) == 0o600)
        // The audit entry names the token by its id, never the token itself.
        let audit = try run(["audit", "show", "--state-dir", state, "--kind", "auth.login", "--format", "jsonl"])
        #expect(audit.stdout.contains("tokenId") && !audit.stdout.contains(String(lines[0])))

        let ttl = try run(["token", "issue", "--state-dir", state, "--user", "alice", "--ttl", "13h"])
        #expect(ttl.status == 2 && ttl.stderr.contains("ttl '13h'") && ttl.stdout.isEmpty)
        let unit = try run(["token", "issue", "--state-dir", state, "--user", "alice", "--ttl", "15x"])
        #expect(unit.status == 2 && unit.stderr.contains("ttl '15x'"))
        let unknown = try run(["token", "issue", "--state-dir", state, "--user", "bob"])
        #expect(unknown.status == 1 && unknown.stderr.contains("user 'bob': no such account"))
        #expect(try run(["user", "disable", "--state-dir", state, "--id", "alice"]).status == 0)
        let disabled = try run(["token", "issue", "--state-dir", state, "--user", "alice"])
        #expect(disabled.status == 1 && disabled.stderr.contains("disabled") && disabled.stdout.isEmpty)

        let enabled = try run(["user", "enable", "--state-dir", state, "--id", "alice"])
        #expect(enabled.status == 0 && enabled.stdout.contains("user alice enabled"), "\(enabled.stderr)")
        #expect(try run(["token", "issue", "--state-dir", state, "--user", "alice"]).status == 0)
        let again = try run(["user", "enable", "--state-dir", state, "--id", "alice"])
        #expect(again.status == 1 && again.stderr.contains("user 'alice': not disabled"), "\(again.stderr)")
        let ghost = try run(["user", "enable", "--state-dir", state, "--id", "ghost"])
        #expect(ghost.status == 1 && ghost.stderr.contains("no such account"))
        let log = try run(["audit", "show", "--state-dir", state, "--kind", "account.enabled", "--format", "jsonl"])
        #expect(log.stdout.components(separatedBy: #""kind":"account.enabled""#).count - 1 == 1, "\(log.stdout)")

        let revoked = try run(["token", "revoke", "--state-dir", state, "--jti", "some-token-id"])
        #expect(revoked.status == 0 && revoked.stdout.contains("token some-token-id revoked"), "\(revoked.stderr)")
        let nobody = try run(["token", "revoke", "--state-dir", state, "--user", "ghost"])
        #expect(nobody.status == 1 && nobody.stderr.contains("user 'ghost': no such account"))
        let bad = try run(["token", "revoke", "--state-dir", state, "--jti", "has space"])
        #expect(bad.status == 2 && bad.stderr.contains("token id 'has space'"), "\(bad.stderr)")
    }
}

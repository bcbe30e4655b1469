import AuditLog
import Foundation
import MedTunnelTestSupport
import Testing

/// `medtunnel audit show` with the filters it shares with `GET /v1/audit`.
@Suite("medtunnel audit show: filters", .offThePool)
struct AuditShowCommandTests {
    /// Five entries over three days: a pairing of PUMP-0001 to patient-001, two change requests,
    /// an account naming patient-001 in its attributes, a security event on PUMP-0002.
    static func log() async throws -> (TemporaryDirectory, String) {
        let tmp = try TemporaryDirectory()
        let state = tmp.sub("state")
        // Written through the log's own API: `audit append` stamps entries with the time now,
        // and these need days between them.
        let entries: [(Int64, String, String, String, String?, String)] = [
            (
                1_796_119_200_000, "pump.paired", "alice", "patient", "PUMP-0001",  // 2026-12-01T10:00:00Z
                #"{"schema":"medtunnel.pump-binding.v1","kind":"pump.paired","pumpSerial":"PUMP-0001","patientId":"patient-001","at":1796119200000}"#
            ),
            (1_796_202_000_000, "change.requested", "alice", "patient", "PUMP-0001", #"{"id":"chg_1"}"#),  // 2026-12-02T09:00Z
            (1_796_212_800_000, "change.requested", "bob", "patient", "PUMP-0002", #"{"id":"chg_2"}"#),  // 2026-12-02T12:00Z
            (
                1_796_256_000_000, "account.created", "admin-1", "admin", nil,  // 2026-12-03T00:00:00Z
                #"{"id":"carol","attributes":["patient=patient-001"]}"#
            ),
            (
                1_796_259_600_000, "security.event", "gateway", "system", "PUMP-0002",  // 2026-12-03T01:00:00Z
                #"{"schema":"medtunnel.security-event.v1","event":"tunnel_failed","reason":"x","detail":"y"}"#
            ),
        ]
        let audit = try await AuditLog.open(stateDirectory: state)
        for (time, kind, actor, role, pump, payload) in entries {
            _ = try await audit.append(
                try AuditEvent(
                    timeMilliseconds: time,
                    actor: try AuditActor(id: actor, role: role),
                    kind: try AuditKind(kind),
                    pumpSerial: pump,
                    payload: Array(payload.utf8)
                )
            )
        }
        return (tmp, state)
    }

    /// The indexes `audit show` prints (jsonl) with `filters`.
    static func indexes(_ state: String, _ filters: [String]) throws -> [Int] {
        let shown = try ProcessHarness.medtunnel(
            ["audit", "show", "--state-dir", state, "--format", "jsonl"] + filters
        )
        #expect(shown.status == 0, "\(shown.stderr)")
        return try shown.stdout.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try #require(object?["index"] as? Int)
        }
    }

    @Test("--patient, --actor, --since/--until with dates, a security event kind")
    func filters() async throws {
        let (tmp, state) = try await Self.log()
        defer { withExtendedLifetime(tmp) {} }
        // Pump bound to patient-001 by the pairing entry, plus the account naming them.
        #expect(try Self.indexes(state, ["--patient", "patient-001"]) == [0, 1, 3])
        #expect(try Self.indexes(state, ["--actor", "alice"]) == [0, 1])
        #expect(try Self.indexes(state, ["--since", "2026-12-02", "--until", "2026-12-03"]) == [1, 2])
        #expect(try Self.indexes(state, ["--until", "2026-12-02T09:00:00Z"]) == [0])
        #expect(try Self.indexes(state, ["--kind", "tunnel_failed"]) == [4])
        #expect(try Self.indexes(state, ["--kind", "change.requested", "--pump", "PUMP-0002"]) == [2])
        let table = try ProcessHarness.medtunnel(["audit", "show", "--state-dir", state, "--actor", "bob"])
        #expect(table.stdout.contains("change.requested by bob (patient) on PUMP-0002: id=chg_2"), "\(table.stdout)")
    }

    @Test("an unknown --kind is an error naming it and listing the known kinds, exit 2")
    func unknownKind() async throws {
        let (tmp, state) = try await Self.log()
        defer { withExtendedLifetime(tmp) {} }
        let refused = try ProcessHarness.medtunnel(["audit", "show", "--state-dir", state, "--kind", "change.requestd"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("--kind 'change.requestd'"), "\(refused.stderr)")
        #expect(refused.stderr.contains("change.requested") && refused.stderr.contains("tunnel_failed"))
        #expect(refused.stdout.isEmpty)
    }

    @Test("a bad --since or --until is an error naming the option, exit 2", arguments: ["--since", "--until"])
    func badTime(_ option: String) async throws {
        let (tmp, state) = try await Self.log()
        defer { withExtendedLifetime(tmp) {} }
        let refused = try ProcessHarness.medtunnel(["audit", "show", "--state-dir", state, option, "2026-13-01"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("\(option) '2026-13-01'"), "\(refused.stderr)")
    }
}

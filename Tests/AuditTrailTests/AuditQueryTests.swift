import AuditLog
import AuditTrail
import Testing

@Suite("AuditQuery: the filter of audit show and GET /v1/audit")
struct AuditQueryTests {
    static let day: Int64 = 86_400_000
    /// 2026-12-02T00:00:00Z
    static let december2: Int64 = 1_796_169_600_000

    static func entry(
        _ kind: AuditKind,
        actor: String = "alice",
        pump: String? = nil,
        time: Int64 = december2,
        payload: String = "{}"
    ) throws -> AuditEntry {
        AuditEntry(
            index: 0,
            event: try AuditEvent(
                timeMilliseconds: time,
                actor: try AuditActor(id: actor, role: "patient"),
                kind: kind,
                pumpSerial: pump,
                payload: Array(payload.utf8)
            )
        )
    }

    @Test("times: RFC 3339, a date at midnight UTC, epoch milliseconds; anything else names the parameter")
    func times() throws {
        #expect(AuditTime.parse("2026-12-02") == Self.december2)
        #expect(AuditTime.parse("2026-12-02T01:00:00+01:00") == Self.december2)
        #expect(AuditTime.parse("1796169600000") == Self.december2)
        for bad in ["2026-13-01", "2026-02-30", "yesterday", "2026-12-2", ""] {
            #expect(AuditTime.parse(bad) == nil, "\(bad)")
        }
        let since = #expect(throws: AuditQueryError.self) { try AuditQuery(parameters: ["since": "2026-13-01"]) }
        #expect(since?.parameter == "since" && since?.value == "2026-13-01")
        let error = #expect(throws: AuditQueryError.self) {
            try AuditQuery(parameters: ["since": "2026-12-02", "until": "2026-12-01"])
        }
        #expect(error?.parameter == "until")
    }

    @Test("an unknown kind is refused, naming it and listing every known kind")
    func unknownKind() throws {
        let error = #expect(throws: AuditQueryError.self) { try AuditQuery(parameters: ["kind": "change.requestd"]) }
        #expect(error?.parameter == "kind" && error?.value == "change.requestd")
        for known in ["change.requested", "pump.paired", "lockout.sent", "alert.raised", "tunnel_failed"] {
            #expect(error?.expected.contains(known) == true, "\(known)")
        }
        #expect(try AuditQuery(parameters: ["kind": "pki.revoked"]).kind == .entry(.pkiRevoked))
        #expect(try AuditQuery(parameters: ["kind": "tunnel_failed"]).kind == .securityEvent("tunnel_failed"))
    }

    @Test("pump, actor, kind and a since/until window (since inclusive, until exclusive)")
    func fields() throws {
        let query = try AuditQuery(parameters: [
            "pump": "PUMP-0001", "actor": "alice", "kind": "change.requested", "since": "2026-12-02",
            "until": "2026-12-03",
        ])
        let match = try Self.entry(.changeRequested, pump: "PUMP-0001")
        #expect(query.matches(match, pumpPatient: nil))
        #expect(!query.matches(try Self.entry(.changeRequested, pump: "PUMP-0002"), pumpPatient: nil))
        #expect(!query.matches(try Self.entry(.changeRequested, actor: "bob", pump: "PUMP-0001"), pumpPatient: nil))
        #expect(!query.matches(try Self.entry(.changeDecided, pump: "PUMP-0001"), pumpPatient: nil))
        #expect(
            !query.matches(
                try Self.entry(.changeRequested, pump: "PUMP-0001", time: Self.december2 - 1),
                pumpPatient: nil
            )
        )
        #expect(
            !query.matches(
                try Self.entry(.changeRequested, pump: "PUMP-0001", time: Self.december2 + Self.day),
                pumpPatient: nil
            )
        )
        #expect(
            query.matches(
                try Self.entry(.changeRequested, pump: "PUMP-0001", time: Self.december2 + Self.day - 1),
                pumpPatient: nil
            )
        )
    }

    @Test("a security event kind matches security.event entries by their payload's event")
    func securityEventKind() throws {
        let query = try AuditQuery(parameters: ["kind": "tunnel_failed"])
        #expect(query.matches(try Self.entry(.securityEvent, payload: #"{"event":"tunnel_failed"}"#), pumpPatient: nil))
        #expect(
            !query.matches(try Self.entry(.securityEvent, payload: #"{"event":"handshake_failed"}"#), pumpPatient: nil)
        )
        #expect(
            !query.matches(try Self.entry(.changeRequested, payload: #"{"event":"tunnel_failed"}"#), pumpPatient: nil)
        )
    }

    @Test("patient: the pump's binding, or a payload naming the patient; not a mere substring")
    func patient() throws {
        let query = try AuditQuery(parameters: ["patient": "patient-001"])
        #expect(query.matches(try Self.entry(.changeRequested, pump: "PUMP-0001"), pumpPatient: "patient-001"))
        #expect(!query.matches(try Self.entry(.changeRequested, pump: "PUMP-0002"), pumpPatient: "patient-002"))
        #expect(
            query.matches(
                try Self.entry(.pumpTherapySet, payload: #"{"prescription":{"patientId":"patient-001"}}"#),
                pumpPatient: nil
            )
        )
        #expect(
            query.matches(
                try Self.entry(.pumpTransferred, payload: #"{"targetPatientId":"patient-001"}"#),
                pumpPatient: nil
            )
        )
        #expect(
            query.matches(
                try Self.entry(.accountCreated, payload: #"{"attributes":["patient=patient-001"]}"#),
                pumpPatient: nil
            )
        )
        #expect(
            !query.matches(
                try Self.entry(.accountCreated, payload: #"{"attributes":["patient=patient-0012"]}"#),
                pumpPatient: nil
            )
        )
        #expect(!query.matches(try Self.entry(.changeRequested, payload: #"{"note":"patient-001"}"#), pumpPatient: nil))
    }

    @Test("the summary is one short line from the kind and a few payload fields")
    func summary() throws {
        let entry = try Self.entry(
            .changeRequested,
            pump: "PUMP-0001",
            payload: #"{"id":"chg_1","body":"\#(String(repeating: "x", count: 500))"}"#
        )
        #expect(AuditSummary.line(entry) == "change.requested by alice (patient) on PUMP-0001: id=chg_1")
        let long = try Self.entry(.changeRequested, payload: #"{"id":"\#(String(repeating: "y", count: 500))"}"#)
        #expect(AuditSummary.line(long).count <= 200 && !AuditSummary.line(long).contains("\n"))
    }
}

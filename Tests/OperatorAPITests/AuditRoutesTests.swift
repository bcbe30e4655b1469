import AuditLog
import AuditTrail
import Foundation
import Hummingbird
import HummingbirdTesting
import OperatorAPI
import Testing

/// `/v1/audit…` over the fixture's real audit log: search, paging, refusals, and proofs checked
/// with the project's own verifier.
@Suite("Operator API: audit routes")
struct AuditRoutesTests {
    typealias Fixture = OperatorAPITests.Fixture

    /// The fixture (four `account.created` entries, 0...3) plus, from index 4: a pairing of
    /// PUMP-0001, alice's change request on it, bob's on PUMP-0002, a security event on PUMP-0002.
    final class Bed: Sendable {
        let fixture: Fixture
        let api: OperatorAPI

        init() async throws {
            self.fixture = try await Fixture()
            let audit = self.fixture.audit
            let old = self.fixture.api
            self.api = OperatorAPI(
                pumps: old.pumps,
                phones: old.phones,
                store: old.store,
                prometheus: old.prometheus,
                access: old.access,
                audit: AuditTrailSource(log: audit) { serial in
                    Fixture.pumpsOfPatients.first { $0.value.contains(serial) }?.key
                }
            )
            let t0: Int64 = 1_796_169_600_000  // 2026-12-02T00:00:00Z
            let entries: [(Int, AuditKind, String, String, String)] = [
                (0, AuditKind.pumpPaired, "alice", "PUMP-0001", #"{"patientId":"patient-001"}"#),
                (1, .changeRequested, "alice", "PUMP-0001", #"{"id":"chg_1"}"#),
                (2, .changeRequested, "bob", "PUMP-0002", #"{"id":"chg_2"}"#),
                (3, .securityEvent, "gateway", "PUMP-0002", #"{"event":"tunnel_failed"}"#),
            ]
            for (offset, kind, actor, pump, payload) in entries {
                _ = try await audit.append(
                    try AuditEvent(
                        timeMilliseconds: t0 + Int64(offset) * 3_600_000,
                        actor: try AuditActor(id: actor, role: actor == "gateway" ? "system" : "patient"),
                        kind: kind,
                        pumpSerial: pump,
                        payload: Array(payload.utf8)
                    )
                )
            }
        }

        /// Status, content type and body of a GET.
        func get(
            _ uri: String,
            user: String? = "olga",
            accept: String? = nil
        ) async throws
            -> (HTTPResponse.Status, String, Data)
        {
            let app = Application(router: self.api.router())
            var fields = try await self.fixture.headers(user: user, authorization: nil)
            if let accept { fields[.accept] = accept }
            let headers = fields
            return try await app.test(.router) { client in
                try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    (response.status, response.headers[.contentType] ?? "", Data(buffer: response.body))
                }
            }
        }

        func json(_ uri: String, status: HTTPResponse.Status = .ok) async throws -> [String: Any] {
            let (got, type, body) = try await self.get(uri)
            #expect(got == status, "\(uri): \(String(decoding: body, as: UTF8.self))")
            #expect(type.hasPrefix("application/json"))
            return try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        }

        func indexes(_ uri: String) async throws -> [Int] {
            let body = try await self.json(uri)
            return try #require(body["entries"] as? [[String: Any]]).compactMap { $0["index"] as? Int }
        }

        func refusal(_ uri: String, _ status: HTTPResponse.Status, user: String? = "olga") async throws -> APIError.Body
        {
            let (got, _, body) = try await self.get(uri, user: user)
            #expect(got == status, "\(uri): \(String(decoding: body, as: UTF8.self))")
            return try JSONDecoder().decode(APIError.Body.self, from: body)
        }
    }

    static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test("filters: patient (binding or payload), pump, actor, kind, security event kind, time window")
    func filters() async throws {
        let bed = try await Bed()
        #expect(try await bed.indexes("/v1/audit?pump=PUMP-0002") == [7, 6])
        #expect(try await bed.indexes("/v1/audit?actor=alice") == [5, 4])
        #expect(try await bed.indexes("/v1/audit?kind=change.requested") == [6, 5])
        #expect(try await bed.indexes("/v1/audit?kind=tunnel_failed") == [7])
        #expect(try await bed.indexes("/v1/audit?since=2026-12-02T01:00:00Z&until=2026-12-02T03:00:00Z") == [6, 5])
        // The accounts of alice and drsmith name patient-001 (1, 3); PUMP-0001 is bound to them (4, 5).
        #expect(try await bed.indexes("/v1/audit?patient=patient-001") == [5, 4, 3, 1])
        let body = try await bed.json("/v1/audit?pump=PUMP-0001&limit=1")
        let entry = try #require((body["entries"] as? [[String: Any]])?.first)
        #expect(entry["summary"] as? String == "change.requested by alice (patient) on PUMP-0001: id=chg_1")
        #expect(entry["time"] as? String == "2026-12-02T01:00:00.000Z")
        #expect((entry["payload"] as? [String: Any])?["id"] as? String == "chg_1")
        #expect((entry["actor"] as? [String: Any])?["role"] as? String == "patient")
        #expect(body["next"] as? Int == 5)
    }

    @Test("paging: newest first through 'before', oldest first through 'after'")
    func paging() async throws {
        let bed = try await Bed()
        let first = try await bed.json("/v1/audit?limit=3")
        #expect(first["order"] as? String == "newest_first" && first["next"] as? Int == 5)
        #expect(try await bed.indexes("/v1/audit?limit=3&before=5") == [4, 3, 2])
        let ascending = try await bed.json("/v1/audit?limit=3&after=5")
        #expect(ascending["order"] as? String == "oldest_first" && ascending["next"] is NSNull)
        #expect(try await bed.indexes("/v1/audit?limit=3&after=5") == [6, 7])
    }

    @Test(
        "bad parameters are 400 invalid_parameter naming the parameter",
        arguments: [
            ("/v1/audit?kind=change.requestd", "'kind'"), ("/v1/audit?since=2026-13-01", "'since'"),
            ("/v1/audit?until=tomorrow", "'until'"), ("/v1/audit?limit=0", "'limit'"),
            ("/v1/audit?limit=1001", "'limit'"), ("/v1/audit?before=-1", "'before'"),
            ("/v1/audit?before=3&after=1", "'after'"), ("/v1/audit/seven", "'index'"),
            ("/v1/audit/consistency", "'from'"), ("/v1/audit/consistency?from=9&to=3", "'from'"),
            ("/v1/audit/consistency?from=1&to=99", "'to'"),
        ]
    )
    func badParameters(_ uri: String, _ named: String) async throws {
        let bed = try await Bed()
        let body = try await bed.refusal(uri, .badRequest)
        #expect(body.error == "bad_request" && body.reason == "invalid_parameter")
        #expect(body.message.contains(named), "\(body.message)")
    }

    @Test("an unknown kind's 400 lists the known kinds")
    func unknownKind() async throws {
        let bed = try await Bed()
        let body = try await bed.refusal("/v1/audit?kind=nope", .badRequest)
        #expect(body.message.contains("change.requested") && body.message.contains("tunnel_failed"))
    }

    @Test("an index beyond the log is 404 entry_not_found")
    func beyond() async throws {
        let bed = try await Bed()
        let body = try await bed.refusal("/v1/audit/8", .notFound)
        #expect(body.reason == "entry_not_found" && body.message.contains("8 entries"))
    }

    @Test("an entry's inclusion proof verifies against the signed checkpoint it names")
    func inclusion() async throws {
        let bed = try await Bed()
        for index in [0, 5, 7] {
            let body = try await bed.json("/v1/audit/\(index)")
            let inclusion = try #require(body["inclusion"] as? [String: Any])
            let checkpoint = try #require(body["checkpoint"] as? [String: Any])
            let note = try #require(checkpoint["note"] as? String)
            // The root comes from the signed note, checked with the log's key, not from the answer.
            let signed = try bed.fixture.audit.signer.verifier.verifyCheckpoint(note: note, context: "answer")
            let encoded = try #require(body["entryBytes"] as? String)
            let entryBytes = try #require(Data(base64Encoded: encoded))
            let leaf = RFC9162.leafHash(Array(entryBytes))
            #expect(Self.bytes(hex: try #require(body["leafHash"] as? String)) == leaf)
            let hashes = try #require(inclusion["hashes"] as? [String]).map(Self.bytes(hex:))
            #expect(inclusion["treeSize"] as? Int == Int(signed.size) && signed.size == 8)
            try MerkleProof.verifyInclusion(
                index: UInt64(index),
                size: signed.size,
                leafHash: leaf,
                proof: hashes,
                root: signed.rootHash
            )
            // A proof for another index does not verify: the test would catch a wrong proof.
            #expect(throws: AuditLogError(.invalidProof, "")) {
                try MerkleProof.verifyInclusion(
                    index: UInt64(index) ^ 1,
                    size: signed.size,
                    leafHash: leaf,
                    proof: hashes,
                    root: signed.rootHash
                )
            }
        }
    }

    @Test("the checkpoint as a signed note, or JSON; a consistency proof between two checkpoints verifies")
    func checkpointAndConsistency() async throws {
        let bed = try await Bed()
        let audit = bed.fixture.audit
        let none = try await bed.refusal("/v1/audit/checkpoint", .notFound)
        #expect(none.reason == "no_checkpoint")
        let old = try await audit.checkpoint()
        _ = try await audit.append(
            try AuditEvent(timeMilliseconds: 1, actor: try AuditActor(id: "x", role: "system"), kind: .configChanged)
        )
        let new = try await audit.checkpoint()
        let (status, type, text) = try await bed.get("/v1/audit/checkpoint")
        #expect(status == .ok && type == "text/plain; charset=utf-8")
        #expect(String(decoding: text, as: UTF8.self) == new.note)
        let json = try await bed.get("/v1/audit/checkpoint", accept: "application/json")
        let object = try #require(try JSONSerialization.jsonObject(with: json.2) as? [String: Any])
        #expect(object["size"] as? Int == 9 && object["note"] as? String == new.note)

        let body = try await bed.json("/v1/audit/consistency?from=\(old.checkpoint.size)&to=\(new.checkpoint.size)")
        let hashes = try #require(body["hashes"] as? [String]).map(Self.bytes(hex:))
        try MerkleProof.verifyConsistency(
            oldSize: old.checkpoint.size,
            newSize: new.checkpoint.size,
            oldRoot: old.checkpoint.rootHash,
            newRoot: new.checkpoint.rootHash,
            proof: hashes
        )
        #expect(throws: AuditLogError(.invalidProof, "")) {
            try MerkleProof.verifyConsistency(
                oldSize: old.checkpoint.size,
                newSize: new.checkpoint.size,
                oldRoot: new.checkpoint.rootHash,
                newRoot: new.checkpoint.rootHash,
                proof: hashes
            )
        }
        // `to` defaults to the latest checkpoint.
        #expect(try await bed.json("/v1/audit/consistency?from=3")["to"] as? Int == 9)
    }

    static let routes = ["/v1/audit", "/v1/audit/4", "/v1/audit/checkpoint", "/v1/audit/consistency?from=1"]

    @Test(
        "role matrix: no token 401; patient, clinician 403 not_authorized; operator 200",
        arguments: routes
    )
    func roles(_ route: String) async throws {
        let bed = try await Bed()
        _ = try await bed.fixture.audit.checkpoint()
        let anonymous = try await bed.refusal(route, .unauthorized, user: nil)
        #expect(anonymous.reason == "missing")
        for user in ["alice", "bob", "drsmith"] {
            let refused = try await bed.refusal(route, .forbidden, user: user)
            #expect(refused.error == "forbidden" && refused.reason == "not_authorized", "\(user)")
        }
        let (status, _, body) = try await bed.get(route, user: "olga")
        #expect(status == .ok, "\(String(decoding: body, as: UTF8.self))")
    }

    @Test("reads of the audit trail are recorded as access.read")
    func recorded() async throws {
        let bed = try await Bed()
        _ = try await bed.indexes("/v1/audit?pump=PUMP-0001")
        await bed.fixture.reads.flush()
        let size = await bed.fixture.audit.size
        let last = try await bed.fixture.audit.entry(at: size - 1)
        #expect(last.event.kind == .accessRead && last.event.actor.id == "olga")
        #expect(String(decoding: last.event.payload, as: UTF8.self).contains("GET /v1/audit"))
    }

    /// A store that reads from the fixture's log and refuses every write, as a failed disk or a
    /// lost database would.
    struct RefusingStore: AuditStore {
        let base: any AuditStore
        func size() async throws -> UInt64 { try await self.base.size() }
        func append(_ batch: AuditBatch) async throws {
            throw AuditLogError(.storageFailure, "disk I/O error (injected)")
        }
        func storeCheckpoint(size: UInt64, note: String) async throws {
            throw AuditLogError(.storageFailure, "disk I/O error (injected)")
        }
        func hashes(of nodes: [MerkleNodeID]) async throws -> [[UInt8]] { try await self.base.hashes(of: nodes) }
        func entries(in range: Range<UInt64>) async throws -> [StoredEntry] { try await self.base.entries(in: range) }
        func nodes(after key: Int64, limit: Int) async throws -> [StoredNode] {
            try await self.base.nodes(after: key, limit: limit)
        }
        func checkpoints() async throws -> [StoredCheckpoint] { try await self.base.checkpoints() }
        func latestCheckpoint() async throws -> StoredCheckpoint? { try await self.base.latestCheckpoint() }
    }

    @Test("GET /healthz: ok with the audit log taking appends; 503 failing naming why once a commit failed")
    func healthFollowsTheLog() async throws {
        let fixture = try await Fixture()
        let log = try await AuditLog(
            store: RefusingStore(base: fixture.audit.store),
            signer: fixture.audit.signer
        )
        let old = fixture.api
        let api = OperatorAPI(
            pumps: old.pumps,
            phones: old.phones,
            store: old.store,
            prometheus: old.prometheus,
            access: old.access,
            audit: AuditTrailSource(log: log) { _ in nil }
        )
        func health(_ status: HTTPResponse.Status) async throws -> APIJSON.Health {
            try await Application(router: api.router()).test(.router) { client in
                try await client.execute(uri: "/healthz", method: .get) { response in
                    #expect(response.status == status, "\(String(buffer: response.body))")
                    return try JSONDecoder().decode(APIJSON.Health.self, from: Data(buffer: response.body))
                }
            }
        }
        let before = try await health(.ok)
        #expect(before.status == "ok" && before.auditLog == "ok", "\(before)")

        await #expect(throws: AuditLogError.self) {
            _ = try await log.append(
                try AuditEvent(
                    timeMilliseconds: 1_796_169_600_000,
                    actor: try AuditActor(id: "olga", role: "operator"),
                    kind: .configChanged,
                    payload: Array("{}".utf8)
                )
            )
        }
        let after = try await health(.serviceUnavailable)
        #expect(after.status == "failing" && after.telemetryStore == "ok", "\(after)")
        #expect(after.auditLog?.contains("disk I/O error (injected)") == true, "\(after)")
    }

}

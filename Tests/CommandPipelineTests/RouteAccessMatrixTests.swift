import AccessTokens
import Accounts
import AuditLog
import ChangeRoutes
import CommandPipeline
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OperatorAPI
import Prometheus
import SafetyPolicy
import Testing
import TherapyModel

/// Every `/v1` route of the operator API (reads, changes, therapy, lockouts, tokens) and
/// `/metrics`, asked three ways: without a token (401), by someone who may not (403, or a list
/// without the pump), by someone who may (the route's success).
@Suite("Operator API: role × route matrix")
struct RouteAccessMatrixTests {
    static let serial = PipelineFixture.serial

    struct Row: CustomStringConvertible {
        let method: HTTPRequest.Method
        let path: String
        let body: Data?
        let wrong: String
        let right: String
        let success: Set<Int>
        var idempotent = false
        var description: String { "\(method) \(path)" }
    }

    @Test("401 without a token, 403 for the wrong person, success for the right one, on every route")
    func matrix() async throws {
        let fixture = try await PipelineFixture.make()
        _ = try await fixture.accounts.add(
            id: "bob",
            role: .patient,
            attributes: try AccountAttributes([try AccountAttribute(parsing: "patient=patient-002")], for: .patient),
            by: try AuditActor(id: "admin-1", role: "admin"),
            now: fixture.clock.now(),
            audit: fixture.audit
        )
        let prometheus = PrometheusCollectorRegistry()
        let pumps = PumpRegistry(metrics: GatewayMetrics(factory: OperatorAPI.metricsFactory(prometheus)))
        _ = pumps.startSession(serial: Self.serial, resumed: false, now: 0, carrier: "phone PHONE-1", close: {})
        let reads = AccessReadLog(audit: fixture.audit, logger: Logger(label: "test"))
        let api = OperatorAPI(
            pumps: pumps,
            phones: PhoneRegistry(),
            store: nil,
            prometheus: prometheus,
            access: APIAccess(pipeline: fixture.pipeline, reads: reads),
            commands: fixture.pipeline,
            audit: AuditTrailSource(pipeline: fixture.pipeline)
        )
        let app = Application(router: api.router())
        var issued: [String: String] = [:]
        for user in ["alice", "bob", "drsmith", "drjones", "drwho", "olga", "ines", "ivan"] {
            issued[user] = try await fixture.bearer(user)
        }
        let tokens = issued
        let serial = Self.serial
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            pump.connect()
            let code = try pump.offerPairingCode()
            try await app.test(.router) { client in
                func call(_ row: Row, _ user: String?) async throws -> (Int, [String: Any]) {
                    var headers: HTTPFields = [:]
                    if let user { headers[.authorization] = tokens[user] }
                    if row.idempotent { headers[ChangeRoutes.idempotencyKey] = UUID().uuidString }
                    let response = try await client.execute(
                        uri: row.path,
                        method: row.method,
                        headers: headers,
                        body: row.body.map { ByteBuffer(bytes: $0) }
                    )
                    let object =
                        (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any]
                    return (Int(response.status.code), object ?? [:])
                }
                func check(_ row: Row, wrongStatus: Int = 403) async throws -> [String: Any] {
                    let (none, noneBody) = try await call(row, nil)
                    #expect(none == 401, "\(row) without a token: \(noneBody)")
                    #expect(noneBody["error"] as? String == "unauthenticated", "\(row)")
                    let (wrong, wrongBody) = try await call(row, row.wrong)
                    #expect(wrong == wrongStatus, "\(row) as \(row.wrong): \(wrongBody)")
                    if wrongStatus == 403 {
                        #expect(wrongBody["error"] as? String == "forbidden", "\(row)")
                        let message = wrongBody["message"] as? String ?? ""
                        #expect(!message.contains("patient-001"), "\(row) names the patient: \(message)")
                    }
                    let (right, rightBody) = try await call(row, row.right)
                    #expect(row.success.contains(right), "\(row) as \(row.right): \(right) \(rightBody)")
                    return rightBody
                }

                // Pairing: a patient posts the code their pump shows; nobody else may.
                _ = try await check(
                    Row(
                        method: .post,
                        path: "/v1/pairings",
                        body: try JSONSerialization.data(withJSONObject: ["code": code.text]),
                        wrong: "drsmith",
                        right: "alice",
                        success: [201]
                    )
                )
                let therapy = Row(
                    method: .put,
                    path: "/v1/pumps/\(serial)/prescription",
                    body: PipelineFixture.therapyBody(),
                    wrong: "drwho",
                    right: "drsmith",
                    success: [200]
                )
                _ = try await check(therapy)
                for row in [
                    Row(
                        method: .get,
                        path: "/v1/pumps/\(serial)",
                        body: nil,
                        wrong: "bob",
                        right: "alice",
                        success: [200]
                    ),
                    Row(
                        method: .get,
                        path: "/v1/pumps/\(serial)/changes",
                        body: nil,
                        wrong: "bob",
                        right: "alice",
                        success: [200]
                    ),
                    Row(
                        method: .get,
                        path: "/v1/events?device=\(serial)",
                        body: nil,
                        wrong: "bob",
                        right: "drsmith",
                        success: [200]
                    ),
                    Row(method: .get, path: "/metrics", body: nil, wrong: "alice", right: "olga", success: [200]),
                    Row(method: .get, path: "/v1/lockouts", body: nil, wrong: "alice", right: "ines", success: [200]),
                    // The audit trail names every patient and actor: reviewers only, not even the
                    // pump's own clinician. The entry route signs the first checkpoint.
                    Row(
                        method: .get,
                        path: "/v1/audit?pump=\(serial)",
                        body: nil,
                        wrong: "drsmith",
                        right: "olga",
                        success: [200]
                    ),
                    Row(method: .get, path: "/v1/audit/0", body: nil, wrong: "alice", right: "ines", success: [200]),
                    Row(
                        method: .get,
                        path: "/v1/audit/checkpoint",
                        body: nil,
                        wrong: "alice",
                        right: "olga",
                        success: [200]
                    ),
                    Row(
                        method: .get,
                        path: "/v1/audit/export?format=fhir&pump=\(serial)",
                        body: nil,
                        wrong: "drsmith",
                        right: "olga",
                        success: [200]
                    ),
                    Row(
                        method: .get,
                        path: "/v1/audit/consistency?from=1",
                        body: nil,
                        wrong: "drsmith",
                        right: "ivan",
                        success: [200]
                    ),
                ] {
                    _ = try await check(row)
                }
                // Lists answer 200 to everyone with a token, with only what they may read.
                for (path, key) in [("/v1/pumps", "pumps"), ("/v1/events", "events")] {
                    let list = Row(method: .get, path: path, body: nil, wrong: "bob", right: "alice", success: [200])
                    let own = try await check(list, wrongStatus: 200)
                    #expect(own[key] is [Any], "\(path)")
                    let (_, other) = try await call(list, "bob")
                    let items = other[key] as? [[String: Any]] ?? []
                    #expect(
                        !items.contains { ($0["serial"] ?? $0["device"]) as? String == serial },
                        "\(path): \(other)"
                    )
                }
                _ = try await check(
                    Row(method: .get, path: "/v1/phones", body: nil, wrong: "bob", right: "olga", success: [200]),
                    wrongStatus: 200
                )

                // Changes: a suspend threshold outside the recommended range is held for approval.
                let submit = Row(
                    method: .post,
                    path: "/v1/pumps/\(serial)/changes",
                    body: ApprovalTests.suspendAt85,
                    wrong: "bob",
                    right: "drsmith",
                    success: [202],
                    idempotent: true
                )
                let held = try await check(submit)
                let id = try #require(held["id"] as? String)
                let second = try await call(submit, "drsmith").1
                let other = try #require(second["id"] as? String)
                _ = try await check(
                    Row(
                        method: .get,
                        path: "/v1/changes/\(id)",
                        body: nil,
                        wrong: "bob",
                        right: "alice",
                        success: [200]
                    )
                )
                _ = try await check(
                    Row(
                        method: .post,
                        path: "/v1/changes/\(id)/approve",
                        body: nil,
                        wrong: "drwho",
                        right: "drjones",
                        success: [200]
                    )
                )
                _ = try await check(
                    Row(
                        method: .post,
                        path: "/v1/changes/\(other)/cancel",
                        body: nil,
                        wrong: "bob",
                        right: "alice",
                        success: [200]
                    )
                )

                // Lockouts: incident staff only; the lift takes a second person.
                let started = try await check(
                    Row(
                        method: .post,
                        path: "/v1/lockouts",
                        body: Data(#"{"scope": "pump:\#(serial)", "reason": "matrix"}"#.utf8),
                        wrong: "alice",
                        right: "ines",
                        success: [201]
                    )
                )
                let lockout = try #require(started["id"] as? String)
                _ = try await check(
                    Row(
                        method: .get,
                        path: "/v1/lockouts/\(lockout)",
                        body: nil,
                        wrong: "drsmith",
                        right: "ines",
                        success: [200]
                    )
                )
                _ = try await check(
                    Row(
                        method: .post,
                        path: "/v1/lockouts/\(lockout)/lift",
                        body: nil,
                        wrong: "olga",
                        right: "ines",
                        success: [200]
                    )
                )
                _ = try await check(
                    Row(
                        method: .post,
                        path: "/v1/lockouts/\(lockout)/lift/confirm",
                        body: nil,
                        wrong: "alice",
                        right: "ivan",
                        success: [200]
                    )
                )

                // Unpairing and transfer: the patient and a clinician of the patient, two requests.
                _ = try await check(
                    Row(
                        method: .post,
                        path: "/v1/pumps/\(serial)/unpair",
                        body: nil,
                        wrong: "bob",
                        right: "alice",
                        success: [202]
                    )
                )
                _ = try await check(
                    Row(
                        method: .post,
                        path: "/v1/pumps/\(serial)/transfer",
                        body: Data(#"{"patientId": "patient-002"}"#.utf8),
                        wrong: "drwho",
                        right: "drsmith",
                        success: [202, 409]
                    )
                )

                // Tokens: one's own, not another's (unless an admin); refused from the next request.
                _ = try await check(
                    Row(
                        method: .post,
                        path: "/v1/tokens/revoke",
                        body: Data(#"{"user": "drsmith"}"#.utf8),
                        wrong: "bob",
                        right: "drsmith",
                        success: [200]
                    )
                )
                for bad in [#"{"jti": 5}"#, #"{"who": "me"}"#, #"{"jti": "a", "user": "b"}"#, "not json"] {
                    let row = Row(
                        method: .post,
                        path: "/v1/tokens/revoke",
                        body: Data(bad.utf8),
                        wrong: "bob",
                        right: "alice",
                        success: []
                    )
                    let (status, body) = try await call(row, "alice")
                    #expect(status == 400 && body["reason"] as? String == "invalid_input", "\(bad): \(body)")
                }
                let (after, refusal) = try await call(therapy, "drsmith")
                #expect(after == 401 && refusal["reason"] as? String == "revoked", "\(refusal)")
                let denied = try await fixture.entries(of: .accessDenied)
                #expect(denied.count >= 4, "refusals of authenticated people are audited")
            }
        }
    }
}

import ChangeRoutes
import CommandPipeline
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TherapyModel

/// The change routes over HTTP (Hummingbird's router test client) with the real pipeline,
/// stores, tokens and a real pump runtime behind them.
@Suite("Change routes over HTTP")
struct ChangeRoutesTests {
    static let serial = PipelineFixture.serial

    @Test("the change story over HTTP: prescription, bolus applied with audit indexes, rejection, approval, errors")
    func story() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        let router = Router()
        ChangeRoutes(pipeline: fixture.pipeline).register(on: router)
        PairingRoutes(pipeline: fixture.pipeline).register(on: router)
        let app = Application(router: router)
        let alice = try await fixture.bearer("alice")
        let drsmith = try await fixture.bearer("drsmith")
        let drjones = try await fixture.bearer("drjones")
        let olga = try await fixture.bearer("olga")
        try await fixture.running {
            try await app.test(.router) { client in
                // The pump shows its code; alice pairs it (201), a replay is refused (409).
                pump.connect()
                let code = try JSONSerialization.data(withJSONObject: ["code": try pump.offerPairingCode().text])
                for expected in [HTTPResponse.Status.created, .conflict] {
                    let paired = try await client.execute(
                        uri: "/v1/pairings",
                        method: .post,
                        headers: [.authorization: alice],
                        body: ByteBuffer(bytes: code)
                    )
                    #expect(paired.status == expected)
                    if expected == .created { #expect(Self.object(paired)["patientId"] as? String == "patient-001") }
                    if expected == .conflict {
                        #expect(Self.object(paired)["reason"] as? String == "pairing_code_used")
                    }
                }
                let put = try await client.execute(
                    uri: "/v1/pumps/\(Self.serial)/prescription",
                    method: .put,
                    headers: [.authorization: drsmith],
                    body: ByteBuffer(bytes: PipelineFixture.therapyBody())
                )
                #expect(put.status == .ok)
                #expect(Self.object(put)["version"] as? Int == 1)

                func post(_ body: Data, _ token: String, key: String? = UUID().uuidString) async throws -> TestResponse
                {
                    var headers: HTTPFields = [.authorization: token]
                    if let key { headers[ChangeRoutes.idempotencyKey] = key }
                    return try await client.execute(
                        uri: "/v1/pumps/\(Self.serial)/changes",
                        method: .post,
                        headers: headers,
                        body: ByteBuffer(bytes: body)
                    )
                }

                // A bolus within limits: 201, then applied, its history with audit indexes.
                let created = try await post(PipelineFixture.bolus(2000), alice, key: "bolus-1")
                #expect(created.status == .created)
                let id = try #require(Self.object(created)["id"] as? String)
                #expect((Self.object(created)["decision"] as? [String: Any])?["decision"] as? String == "accept")
                await fixture.pipeline.waitUntilIdle(Self.serial)
                let shown = try await client.execute(
                    uri: "/v1/changes/\(id)",
                    method: .get,
                    headers: [.authorization: alice]
                )
                #expect(shown.status == .ok)
                let history = try #require(Self.object(shown)["history"] as? [[String: Any]])
                #expect(history.map { $0["to"] as? String } == ["accepted", "queued", "sent", "applied"])
                #expect(history.allSatisfy { $0["auditIndex"] is Int })
                #expect(Self.object(shown)["state"] as? String == "applied")
                #expect(pump.state.lastAppliedSequence == 1)

                // The same key again: the same request, marked as a replay.
                let replayed = try await post(PipelineFixture.bolus(2000), alice, key: "bolus-1")
                #expect(replayed.status == .created && replayed.headers[ChangeRoutes.idempotentReplayed] == "true")
                #expect(Self.object(replayed)["id"] as? String == id)

                // Above the prescription: 422 with the reason, recorded with an id.
                let rejected = try await post(PipelineFixture.bolus(12_000), alice)
                #expect(rejected.status == .unprocessableContent)
                let reasons = (Self.object(rejected)["decision"] as? [String: Any])?["reasons"] as? [[String: Any]]
                #expect(
                    reasons?.compactMap { $0["code"] as? String }.contains("prescription_max_bolus_exceeded") == true
                )
                #expect(Self.object(rejected)["id"] is String)

                // Errors: status and reason.
                let noKey = try await post(PipelineFixture.bolus(2000), alice, key: nil)
                #expect(noKey.status == .badRequest && Self.reason(noKey) == "idempotency_key_missing")
                let noToken = try await client.execute(
                    uri: "/v1/pumps/\(Self.serial)/changes",
                    method: .post,
                    headers: [ChangeRoutes.idempotencyKey: "k"],
                    body: ByteBuffer(bytes: PipelineFixture.bolus(2000))
                )
                #expect(noToken.status == .unauthorized && Self.reason(noToken) == "missing")
                #expect(noToken.headers[.wwwAuthenticate] == "Bearer realm=\"medtunnel\"")
                let byOperator = try await post(PipelineFixture.bolus(2000), olga)
                #expect(byOperator.status == .forbidden && Self.reason(byOperator) == "not_authorized")
                #expect(Self.object(byOperator)["error"] as? String == "forbidden")

                // Outside the recommended range: 202, self-approval 403, a second clinician 200, applied.
                let held = try await post(Data("{\"kind\":\"set_suspend_threshold\",\"mgdL\":85}".utf8), drsmith)
                #expect(held.status == .accepted)
                let heldID = try #require(Self.object(held)["id"] as? String)
                let selfApproval = try await client.execute(
                    uri: "/v1/changes/\(heldID)/approve",
                    method: .post,
                    headers: [.authorization: drsmith]
                )
                #expect(selfApproval.status == .forbidden && Self.reason(selfApproval) == "self_approval")
                let approved = try await client.execute(
                    uri: "/v1/changes/\(heldID)/approve",
                    method: .post,
                    headers: [.authorization: drjones]
                )
                #expect(approved.status == .ok && Self.object(approved)["approver"] as? String == "drjones")
                await fixture.pipeline.waitUntilIdle(Self.serial)
                #expect(pump.state.settings.suspendThreshold == GlucoseMgdL(85))

                // Cancelling an applied command: 409.
                let cancel = try await client.execute(
                    uri: "/v1/changes/\(id)/cancel",
                    method: .post,
                    headers: [.authorization: alice]
                )
                #expect(cancel.status == .conflict && Self.reason(cancel) == "illegal_transition")

                let listed = try await client.execute(
                    uri: "/v1/pumps/\(Self.serial)/changes?limit=10",
                    method: .get,
                    headers: [.authorization: drjones]
                )
                #expect(listed.status == .ok)
                #expect((Self.object(listed)["changes"] as? [Any])?.count == 3)
                let badLimit = try await client.execute(
                    uri: "/v1/pumps/\(Self.serial)/changes?limit=0",
                    method: .get,
                    headers: [.authorization: drjones]
                )
                #expect(badLimit.status == .badRequest && Self.reason(badLimit) == "invalid_parameter")
                let unknown = try await client.execute(
                    uri: "/v1/changes/chg_nothing",
                    method: .get,
                    headers: [.authorization: alice]
                )
                #expect(unknown.status == .notFound && Self.reason(unknown) == "not_found")
            }
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    /// The body as a JSON object; records an issue (and answers empty) when it is not one.
    static func object(_ response: TestResponse) -> [String: Any] {
        let object = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        if object == nil { Issue.record("the body is not a JSON object") }
        return object ?? [:]
    }

    static func reason(_ response: TestResponse) -> String? {
        object(response)["reason"] as? String
    }
}

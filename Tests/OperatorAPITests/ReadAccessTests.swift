import AccessTokens
import AuditLog
import CommandPipeline
import Foundation
import Hummingbird
import HummingbirdTesting
import OperatorAPI
import Testing

/// Every read route behind a bearer token, what each role sees, and the record of reads.
@Suite("Operator API: read access")
struct ReadAccessTests {
    typealias Fixture = OperatorAPITests.Fixture

    static let readRoutes = ["/v1/pumps", "/v1/pumps/PUMP-0001", "/v1/phones", "/v1/events", "/metrics"]

    @Test("every read route is 401 unauthenticated without a token, with WWW-Authenticate", arguments: readRoutes)
    func noToken(_ route: String) async throws {
        let fixture = try await Fixture()
        let app = Application(router: fixture.api.router())
        try await app.test(.router) { client in
            try await client.execute(uri: route, method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"medtunnel\"")
                let body = try JSONDecoder().decode(APIError.Body.self, from: Data(buffer: response.body))
                #expect(body.error == "unauthenticated" && body.reason == "missing")
            }
        }
    }

    @Test("a patient lists only their own pumps; a reviewer every pump")
    func listFiltered() async throws {
        let fixture = try await Fixture()
        let alice = try await fixture.get("/v1/pumps", as: APIJSON.Pumps.self, user: "alice")
        #expect(alice.pumps.map(\.serial) == ["PUMP-0001"])
        let bob = try await fixture.get("/v1/pumps", as: APIJSON.Pumps.self, user: "bob")
        #expect(bob.pumps.map(\.serial) == ["PUMP-0002"])
        let clinician = try await fixture.get("/v1/pumps", as: APIJSON.Pumps.self, user: "drsmith")
        #expect(clinician.pumps.map(\.serial) == ["PUMP-0001"])
        let olga = try await fixture.get("/v1/pumps", as: APIJSON.Pumps.self, user: "olga")
        #expect(olga.pumps.map(\.serial) == ["PUMP-0001", "PUMP-0002"])
    }

    @Test("another patient's pump and a pump that does not exist get the same 403, naming no patient")
    func otherPump() async throws {
        let fixture = try await Fixture()
        let other = try await fixture.get(
            "/v1/pumps/PUMP-0002",
            as: APIError.Body.self,
            status: .forbidden,
            user: "alice"
        )
        let missing = try await fixture.get(
            "/v1/pumps/PUMP-4242",
            as: APIError.Body.self,
            status: .forbidden,
            user: "alice"
        )
        #expect(other.error == "forbidden" && other.reason == "not_authorized")
        #expect(missing.error == other.error && missing.reason == other.reason)
        #expect(!other.message.contains("patient-002") && !other.message.contains("bob"), "\(other.message)")
        #expect(missing.message == other.message.replacingOccurrences(of: "PUMP-0002", with: "PUMP-4242"))
        let own = try await fixture.get("/v1/pumps/PUMP-0001", as: APIJSON.PumpDetail.self, user: "alice")
        #expect(own.pump.serial == "PUMP-0001")
    }

    @Test("phones: a patient sees the phone carrying their pump; another patient none; a reviewer all")
    func phones() async throws {
        let fixture = try await Fixture()
        let alice = try await fixture.get("/v1/phones", as: APIJSON.Phones.self, user: "alice")
        #expect(alice.phones.map(\.id) == ["PHONE-1"])
        let bob = try await fixture.get("/v1/phones", as: APIJSON.Phones.self, user: "bob")
        #expect(bob.phones.isEmpty)
        let olga = try await fixture.get("/v1/phones", as: APIJSON.Phones.self, user: "olga")
        #expect(olga.phones.map(\.id) == ["PHONE-1"])
    }

    @Test("events: a patient sees their pump's events only, and may not ask for another device's")
    func events() async throws {
        let fixture = try await Fixture()
        let alice = try await fixture.get("/v1/events", as: APIJSON.Events.self, user: "alice")
        #expect(alice.events.map(\.kind) == ["duplicate_session", "tunnel_failed"])
        #expect(alice.events.allSatisfy { $0.device == "PUMP-0001" })
        let refused = try await fixture.get(
            "/v1/events?device=PUMP-0009",
            as: APIError.Body.self,
            status: .forbidden,
            user: "alice"
        )
        #expect(refused.reason == "not_authorized")
        let olga = try await fixture.get("/v1/events", as: APIJSON.Events.self, user: "olga")
        #expect(olga.events.count == 3)
    }

    @Test("/metrics: a reviewer's token or the scrape token; a patient is 403")
    func metrics() async throws {
        let fixture = try await Fixture()
        #expect(try await fixture.text("/metrics", user: "olga").0 == .ok)
        #expect(try await fixture.text("/metrics", authorization: "Bearer scrape-token-0123456789").0 == .ok)
        #expect(try await fixture.text("/metrics", authorization: "Bearer scrape-token-wrong").0 == .unauthorized)
        let (status, body) = try await fixture.text("/metrics", user: "alice")
        #expect(status == .forbidden, "\(body)")
    }

    @Test("a revoked token is refused from the next request; the user's other tokens too with --user")
    func revoked() async throws {
        let fixture = try await Fixture()
        let first = try #require(try await fixture.bearer("alice"))
        let second = try #require(try await fixture.bearer("alice"))
        _ = try await fixture.get("/v1/pumps", as: APIJSON.Pumps.self, authorization: first)
        let store = try TokenRevocationStore.open(stateDirectory: fixture.directory.path)
        let jti = try Self.tokenID(first)
        let admin = try AuditActor(id: "admin-1", role: "admin")
        _ = try await store.revoke(tokenID: jti, userID: "alice", by: admin, now: Fixture.now(), audit: fixture.audit)
        let refused = try await fixture.get(
            "/v1/pumps",
            as: APIError.Body.self,
            status: .unauthorized,
            authorization: first
        )
        #expect(refused.reason == "revoked")
        _ = try await fixture.get("/v1/pumps", as: APIJSON.Pumps.self, authorization: second)
        _ = try await store.revokeAll(ofUser: "alice", by: admin, now: Fixture.now(), audit: fixture.audit)
        let all = try await fixture.get(
            "/v1/pumps",
            as: APIError.Body.self,
            status: .unauthorized,
            authorization: second
        )
        #expect(all.reason == "revoked")
        let logged = try await fixture.audit.entries(in: 0..<fixture.audit.size).filter {
            $0.event.kind == .tokenRevoked
        }
        #expect(logged.count == 2)
    }

    @Test("reads of patient data are audited as access.read, one entry per reader per interval")
    func accessRead() async throws {
        let fixture = try await Fixture()
        for _ in 0..<20 { _ = try await fixture.get("/v1/pumps/PUMP-0001", as: APIJSON.PumpDetail.self, user: "alice") }
        _ = try await fixture.get("/v1/pumps", as: APIJSON.Pumps.self, user: "olga")
        let before = try await fixture.audit.entries(in: 0..<fixture.audit.size).filter { $0.event.kind == .accessRead }
        #expect(before.isEmpty, "reads are batched, not written one by one")
        await fixture.reads.flush()
        let entries = try await fixture.audit.entries(in: 0..<fixture.audit.size).filter {
            $0.event.kind == .accessRead
        }
        #expect(entries.count == 2)
        let alice = try #require(entries.first { $0.event.actor.id == "alice" })
        #expect(alice.event.pumpSerial == "PUMP-0001")
        let payload = try #require(
            try JSONSerialization.jsonObject(with: Data(alice.event.payload)) as? [String: Any]
        )
        let reads = try #require(payload["reads"] as? [[String: Any]])
        #expect(reads.count == 1)
        #expect(reads[0]["route"] as? String == "GET /v1/pumps/{serial}")
        #expect(reads[0]["count"] as? Int == 20)
        #expect(reads[0]["pumps"] as? [String] == ["PUMP-0001"])
        let olga = try #require(entries.first { $0.event.actor.id == "olga" })
        #expect(olga.event.actor.role == "operator")
    }

    static func tokenID(_ bearer: String) throws -> String {
        let parts = bearer.dropFirst("Bearer ".count).split(separator: ".")
        var text = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        let data = try #require(Data(base64Encoded: text))
        let claims = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(claims["jti"] as? String)
    }
}

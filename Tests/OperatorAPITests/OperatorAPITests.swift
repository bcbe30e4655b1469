import AccessTokens
import Accounts
import AuditLog
import CommandPipeline
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Logging
import OperatorAPI
import Prometheus
import SafetyPolicy
import TelemetryStore
import Testing
import TherapyModel
import TunnelProtocol

/// The operator API over real registries and a real SQLite telemetry store, through
/// Hummingbird's router test client.
@Suite("Operator API")
struct OperatorAPITests {
    /// 2026-01-02T03:04:05.678Z
    static let t0: Int64 = 1_767_323_045_678

    /// Two pumps (one live through PHONE-1 with three telemetry messages, one that came
    /// directly and left), PHONE-1 with one uplink, and three security events.
    final class Fixture: Sendable {
        let directory: URL
        let store: TelemetryStore
        let api: OperatorAPI
        let issuer: TokenIssuer
        let audit: AuditLog
        let reads: AccessReadLog

        /// olga reviews (an operator); alice is patient-001, whose pump is PUMP-0001; bob is
        /// patient-002, whose pump is PUMP-0002; drsmith is alice's clinician.
        static let pumpsOfPatients = ["patient-001": ["PUMP-0001"], "patient-002": ["PUMP-0002"]]

        init() async throws {
            self.directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "medtunnel-api-test-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
            self.store = try TelemetryStore(directory: self.directory.path)
            let prometheus = PrometheusCollectorRegistry()
            let pumps = PumpRegistry(
                store: self.store,
                metrics: GatewayMetrics(factory: OperatorAPI.metricsFactory(prometheus))
            )
            let phones = PhoneRegistry()
            self.audit = try await AuditLog.open(stateDirectory: self.directory.path)
            let accounts = try AccountStore.open(stateDirectory: self.directory.path)
            let admin = try AuditActor(id: "admin-1", role: "admin")
            let now = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
            for (id, role, attributes) in [
                ("olga", ActorRole.operator, [String]()), ("alice", .patient, ["patient=patient-001"]),
                ("bob", .patient, ["patient=patient-002", "phone=PHONE-9"]),
                ("drsmith", .clinician, ["patient=patient-001"]),
            ] {
                _ = try await accounts.add(
                    id: id,
                    role: role,
                    attributes: try AccountAttributes(
                        try attributes.map { try AccountAttribute(parsing: $0) },
                        for: role
                    ),
                    by: admin,
                    now: now,
                    audit: self.audit
                )
            }
            let key = try TokenSigningKey.load(stateDirectory: self.directory.path)
            self.issuer = try await TokenIssuer(key: key, accounts: accounts)
            let revocations = try TokenRevocationStore.open(stateDirectory: self.directory.path)
            let authenticator = try await Authenticator(key: key, accounts: accounts, revocations: revocations)
            self.reads = AccessReadLog(audit: self.audit, logger: Logger(label: "test"))
            let access = APIAccess(
                authenticate: { authorization async throws(ChangeAPIError) in
                    do throws(AuthenticationError) {
                        return try await authenticator.authenticate(authorization: authorization, now: Fixture.now())
                    } catch {
                        throw ChangeAPIError.unauthenticated(error)
                    }
                },
                scope: { user async throws(ChangeAPIError) in
                    if CommandPipeline.reviewerRoles.contains(user.actor.role) { return .all }
                    return .pumps(Set(user.actor.patientIDs.flatMap { Fixture.pumpsOfPatients[$0] ?? [] }))
                },
                reads: self.reads,
                metricsToken: "scrape-token-0123456789"
            )
            self.api = OperatorAPI(
                pumps: pumps,
                phones: phones,
                store: self.store,
                prometheus: prometheus,
                access: access
            )

            let t0 = OperatorAPITests.t0
            let uplink = phones.uplinkStarted(phone: "PHONE-1", remote: "127.0.0.1:5000", now: t0, close: {})
            uplink.traffic.streamOpened()
            uplink.traffic.carried(fromPhone: 1_200)
            uplink.traffic.carried(toPhone: 800)
            _ = pumps.startSession(serial: "PUMP-0001", resumed: false, now: t0, carrier: "phone PHONE-1", close: {})
            pumps.hello(serial: "PUMP-0001", firmware: "fw-1.2", now: t0)
            for sequence in UInt64(1)...3 {
                let telemetry = InnerMessage.Telemetry(
                    sequence: sequence,
                    timeMilliseconds: 1_000 * Int64(sequence),
                    reservoirMilliunits: 150_000,
                    basalRateMilliunitsPerHour: 850,
                    glucoseMgPerDL: sequence == 3 ? 0 : 120,
                    batteryPercent: 80,
                    flags: sequence == 3 ? [.suspended] : []
                )
                let outcome = pumps.acceptTelemetry(
                    serial: "PUMP-0001",
                    telemetry,
                    now: t0 + Int64(sequence),
                    carrier: "phone PHONE-1",
                    durable: { _ in }
                )
                #expect(outcome == .stored)
            }
            let second = pumps.startSession(
                serial: "PUMP-0002",
                resumed: true,
                now: t0,
                carrier: "direct 127.0.0.1:6000",
                close: {}
            )
            pumps.sessionEnded(serial: "PUMP-0002", session: second.number, now: t0 + 10)
            pumps.record(
                SecurityEvent(
                    timeMilliseconds: t0 + 20,
                    kind: "handshake_failed",
                    device: "PUMP-0009",
                    detail: "TLS certificateRevoked: pump PUMP-0009 is revoked",
                    carrier: "phone PHONE-1",
                    reason: "certificateRevoked"
                )
            )
            pumps.record(
                SecurityEvent(
                    timeMilliseconds: t0 + 30,
                    kind: "tunnel_failed",
                    device: "PUMP-0001",
                    detail: "TLS recordRejected: bad record mac",
                    carrier: "phone PHONE-1",
                    reason: "recordRejected"
                )
            )
            pumps.record(
                SecurityEvent(
                    timeMilliseconds: t0 + 40,
                    kind: "duplicate_session",
                    device: "PUMP-0001",
                    detail: "session 2 via phone PHONE-1 replaced session 1 via phone PHONE-2, which was closed",
                    carrier: "phone PHONE-1"
                )
            )
            try await self.store.flush()
        }

        deinit {
            self.store.close()
            try? FileManager.default.removeItem(at: self.directory)
        }

        static func now() -> Timestamp {
            Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
        }

        /// `Bearer <token>` for `user`, or nil for no header.
        func bearer(_ user: String?) async throws -> String? {
            guard let user else { return nil }
            return "Bearer " + (try await issuer.issue(to: user, lifetime: .default, now: Fixture.now())).token
        }

        func headers(user: String?, authorization: String?) async throws -> HTTPFields {
            var headers = HTTPFields()
            if let authorization {
                headers[.authorization] = authorization
            } else if let bearer = try await self.bearer(user) {
                headers[.authorization] = bearer
            }
            return headers
        }

        func get<T: Decodable & Sendable>(
            _ uri: String,
            as type: T.Type,
            status: HTTPResponse.Status = .ok,
            user: String? = "olga",
            authorization: String? = nil
        ) async throws -> T {
            let app = Application(router: self.api.router())
            let headers = try await self.headers(user: user, authorization: authorization)
            return try await app.test(.router) { client in
                try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    #expect(response.status == status, "\(uri): \(String(buffer: response.body))")
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                    return try JSONDecoder().decode(T.self, from: Data(buffer: response.body))
                }
            }
        }

        func text(
            _ uri: String,
            user: String? = "olga",
            authorization: String? = nil
        ) async throws
            -> (HTTPResponse.Status, String)
        {
            let app = Application(router: self.api.router())
            let headers = try await self.headers(user: user, authorization: authorization)
            return try await app.test(.router) { client in
                try await client.execute(uri: uri, method: .get, headers: headers) {
                    ($0.status, String(buffer: $0.body))
                }
            }
        }
    }

    @Test("GET /v1/pumps lists every pump: connected, phone, last seen (ISO 8601), firmware, sessions")
    func pumps() async throws {
        let fixture = try await Fixture()
        let body = try await fixture.get("/v1/pumps", as: APIJSON.Pumps.self)
        #expect(body.pumps.map(\.serial) == ["PUMP-0001", "PUMP-0002"])
        let first = body.pumps[0]
        #expect(first.connected)
        #expect(first.phone == "PHONE-1")
        #expect(first.carrier == "phone PHONE-1")
        #expect(first.firmware == "fw-1.2")
        #expect(first.sessions == 1 && first.resumedSessions == 0)
        #expect(first.telemetryStored == 3)
        #expect(first.lastSeen == "2026-01-02T03:04:05.681Z")
        let second = body.pumps[1]
        #expect(!second.connected)
        #expect(second.phone == nil)
        #expect(second.carrier == "direct 127.0.0.1:6000")
        #expect(second.sessions == 1 && second.resumedSessions == 1)
        #expect(second.lastSeen == "2026-01-02T03:04:05.688Z")
    }

    @Test("GET /v1/pumps/{serial} has the latest telemetry; glucose 0 is null; flags by name")
    func pumpDetail() async throws {
        let fixture = try await Fixture()
        let body = try await fixture.get("/v1/pumps/PUMP-0001", as: APIJSON.PumpDetail.self)
        #expect(body.pump.serial == "PUMP-0001")
        let telemetry = try #require(body.latestTelemetry)
        #expect(telemetry.sequence == 3)
        #expect(telemetry.pumpTimeMilliseconds == 3_000)
        #expect(telemetry.received == "2026-01-02T03:04:05.681Z")
        #expect(telemetry.reservoirMilliunits == 150_000)
        #expect(telemetry.basalRateMilliunitsPerHour == 850)
        #expect(telemetry.glucoseMgPerDL == nil)
        #expect(telemetry.batteryPercent == 80)
        #expect(telemetry.flags == ["suspended"])
        let quiet = try await fixture.get("/v1/pumps/PUMP-0002", as: APIJSON.PumpDetail.self)
        #expect(quiet.latestTelemetry == nil)
    }

    @Test("GET /v1/pumps/{unknown} is 404 pump_not_found naming the serial")
    func unknownPump() async throws {
        let fixture = try await Fixture()
        let error = try await fixture.get("/v1/pumps/PUMP-4242", as: APIError.Body.self, status: .notFound)
        #expect(error.error == "not_found" && error.reason == "pump_not_found")
        #expect(error.message.contains("'PUMP-4242'"), "\(error.message)")
    }

    @Test("GET /v1/phones: connected, the pumps it carries now, streams and bytes")
    func phones() async throws {
        let fixture = try await Fixture()
        let body = try await fixture.get("/v1/phones", as: APIJSON.Phones.self)
        let phone = try #require(body.phones.first)
        #expect(body.phones.count == 1)
        #expect(phone.id == "PHONE-1")
        #expect(phone.connected)
        #expect(phone.pumps == ["PUMP-0001"])
        #expect(phone.uplinks == 1)
        #expect(phone.streamsOpen == 1 && phone.streamsTotal == 1)
        #expect(phone.bytesFromPhone == 1_200 && phone.bytesToPhone == 800)
        #expect(phone.remote == "127.0.0.1:5000")
    }

    @Test("GET /v1/events: newest first, with kind, device, phone, reason and detail; ?limit and ?kind")
    func events() async throws {
        let fixture = try await Fixture()
        let all = try await fixture.get("/v1/events", as: APIJSON.Events.self)
        #expect(all.events.map(\.kind) == ["duplicate_session", "tunnel_failed", "handshake_failed"])
        let revoked = all.events[2]
        #expect(revoked.time == "2026-01-02T03:04:05.698Z")
        #expect(revoked.device == "PUMP-0009")
        #expect(revoked.phone == "PHONE-1")
        #expect(revoked.reason == "certificateRevoked")
        #expect(revoked.detail.contains("revoked"))
        let one = try await fixture.get("/v1/events?limit=1", as: APIJSON.Events.self)
        #expect(one.events.map(\.kind) == ["duplicate_session"])
        let tunnel = try await fixture.get("/v1/events?kind=tunnel_failed", as: APIJSON.Events.self)
        #expect(tunnel.events.map(\.reason) == ["recordRejected"])
    }

    @Test(
        "?limit outside 1…1000 or not a number is 400 invalid_parameter naming limit",
        arguments: ["0", "1001", "abc", "-5"]
    )
    func badLimit(_ limit: String) async throws {
        let fixture = try await Fixture()
        let error = try await fixture.get("/v1/events?limit=\(limit)", as: APIError.Body.self, status: .badRequest)
        #expect(error.error == "bad_request" && error.reason == "invalid_parameter")
        #expect(error.message.contains("'limit'") && error.message.contains("'\(limit)'"), "\(error.message)")
    }

    @Test("an unknown endpoint is 404 not_found in the same JSON error form")
    func unknownEndpoint() async throws {
        let fixture = try await Fixture()
        let error = try await fixture.get("/v2/nothing", as: APIError.Body.self, status: .notFound)
        #expect(error.error == "not_found" && error.reason == "not_found")
        #expect(error.message.contains("/v2/nothing"))
    }

    @Test("GET /healthz is ok with the counts")
    func health() async throws {
        let fixture = try await Fixture()
        let health = try await fixture.get("/healthz", as: APIJSON.Health.self)
        #expect(health.status == "ok" && health.telemetryStore == "ok")
        #expect(health.pumpsConnected == 1 && health.phonesConnected == 1)
    }

    @Test(
        "GET /metrics: Prometheus text with pumps, phones, sessions, telemetry, handshake failures by reason, events by kind"
    )
    func metrics() async throws {
        let fixture = try await Fixture()
        let (status, text) = try await fixture.text("/metrics")
        #expect(status == .ok)
        let samples = PrometheusText.samples(text)
        let expected: [String: Double] = [
            "medtunnel_gateway_pumps_connected": 1,
            "medtunnel_gateway_pumps_known": 2,
            "medtunnel_gateway_phones_connected": 1,
            "medtunnel_gateway_sessions_total": 2,
            "medtunnel_gateway_sessions_resumed_total": 1,
            "medtunnel_gateway_telemetry_stored_total": 3,
            "medtunnel_gateway_telemetry_rows": 3,
            #"medtunnel_gateway_handshake_failures_total{reason="certificateRevoked",peer="pump"}"#: 1,
            #"medtunnel_gateway_security_events_total{kind="duplicate_session"}"#: 1,
            #"medtunnel_gateway_security_events_total{kind="tunnel_failed"}"#: 1,
        ]
        for (name, value) in expected {
            #expect(samples[name] == value, "\(name) in:\n\(text)")
        }
        #expect(text.contains("# TYPE medtunnel_gateway_sessions_total counter"))
        #expect(text.contains("# TYPE medtunnel_gateway_pumps_connected gauge"))
    }

    @Test(
        "loopback addresses are recognised; anything else is not",
        arguments: [
            ("127.0.0.1", true), ("127.1.2.3", true), ("localhost", true), ("::1", true), ("::ffff:127.0.0.1", true),
            ("0.0.0.0", false), ("::", false), ("10.0.0.1", false), ("128.0.0.1", false), ("example.org", false),
            ("::2", false),
        ]
    )
    func loopback(_ host: String, _ loopback: Bool) {
        #expect(OperatorAPI.isLoopback(host: host) == loopback)
    }
}

/// Reads Prometheus text format into `name{labels}` → value.
enum PrometheusText {
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}

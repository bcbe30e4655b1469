import AccessTokens
import AuditLog
import CommandPipeline
import Console
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OperatorAPI
import Prometheus
import Testing

/// The web console's pages and actions over a real pipeline, audit log and registries. Sessions
/// are a stand-in here (a header names the user, a fixed CSRF token, a header for a fresh
/// step-up): the passkey sessions themselves are tested in ConsoleAuthTests and, end to end in
/// Chromium, in ConsoleBrowserTests.
@Suite("Console: pages and actions")
struct ConsoleTests {
    static let csrf = "csrf-test-token"

    /// Signs in whoever `X-Test-User` names; `X-Test-Step-Up: fresh` stands for a passkey
    /// assertion within five minutes.
    struct HeaderSignIn: ConsoleSignIn {
        let fixture: PipelineFixture

        func viewer(of request: Request) async throws -> ConsoleViewer {
            guard let user = request.headers[HTTPField.Name("X-Test-User")!] else {
                throw APIError(.unauthorized, "session_missing", "sign in first")
            }
            let account = try #require(try await fixture.accounts.account(id: user))
            return ConsoleViewer(
                userID: user,
                role: account.role.rawValue,
                authorization: try await fixture.bearer(user),
                csrfToken: ConsoleTests.csrf
            )
        }

        func checkPost(_ request: Request, viewer: ConsoleViewer, formToken: String?) async throws {
            guard formToken == viewer.csrfToken else { throw APIError(.forbidden, "csrf_mismatch", "bad token") }
        }

        func requireStepUp(_ request: Request, viewer: ConsoleViewer) async throws {
            guard request.headers[HTTPField.Name("X-Test-Step-Up")!] == "fresh" else {
                throw APIError(.forbidden, "step_up_required", "confirm with your passkey first")
            }
        }
    }

    struct Page {
        let status: Int
        let text: String
        let headers: HTTPFields
    }

    /// The console over `fixture`, PUMP-0001 connected through PHONE-1.
    static func app(_ fixture: PipelineFixture) throws -> some ApplicationProtocol {
        let prometheus = PrometheusCollectorRegistry()
        let pumps = PumpRegistry(metrics: GatewayMetrics(factory: OperatorAPI.metricsFactory(prometheus)))
        _ = pumps.startSession(
            serial: PipelineFixture.serial,
            resumed: false,
            now: 0,
            carrier: "phone PHONE-1",
            close: {}
        )
        let api = OperatorAPI(
            pumps: pumps,
            phones: PhoneRegistry(),
            store: nil,
            prometheus: prometheus,
            access: APIAccess(pipeline: fixture.pipeline, reads: nil),
            commands: fixture.pipeline,
            audit: AuditTrailSource(pipeline: fixture.pipeline)
        )
        let router = api.router()
        try ConsoleRoutes(api: api, pipeline: fixture.pipeline, signIn: HeaderSignIn(fixture: fixture))
            .register(on: router)
        return Application(router: router)
    }

    static func request(
        _ client: some TestClientProtocol,
        _ uri: String,
        as user: String?,
        method: HTTPRequest.Method = .get,
        form: String? = nil,
        stepUp: Bool = false
    ) async throws -> Page {
        var headers: HTTPFields = [:]
        if let user { headers[HTTPField.Name("X-Test-User")!] = user }
        if stepUp { headers[HTTPField.Name("X-Test-Step-Up")!] = "fresh" }
        if form != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let response = try await client.execute(
            uri: uri,
            method: method,
            headers: headers,
            body: form.map { ByteBuffer(string: $0) }
        )
        return Page(
            status: Int(response.status.code),
            text: String(buffer: response.body),
            headers: response.headers
        )
    }

    @Test("without a session every page sends the browser to the sign-in page, keeping where it was going")
    func signInRedirect() async throws {
        let fixture = try await PipelineFixture.make()
        try await Self.app(fixture).test(.router) { client in
            for uri in ["/console", "/console/pumps", "/console/audit?pump=PUMP-0001"] {
                let page = try await Self.request(client, uri, as: nil)
                #expect(page.status == 303, "\(uri)")
                let location = try #require(page.headers[.location])
                #expect(location.hasPrefix("/console/signin?next=/console"), "\(location)")
            }
        }
    }

    @Test("every page renders for a reviewer, never cached, under a strict content security policy")
    func pagesRender() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            try await Self.app(fixture).test(.router) { client in
                let pages = [
                    ("/console", "id=\"pumps-connected\">1<"),
                    ("/console/pumps", "/console/pumps/PUMP-0001"),
                    ("/console/pumps/PUMP-0001", "id=\"pump-chart\""),
                    ("/console/changes", "id=\"inbox-empty\""),
                    ("/console/audit", "pump.therapy.set"),
                    ("/console/audit/checkpoints", "id=\"checkpoints\""),
                    ("/console/alerts", "id=\"alerts\""),
                    ("/console/lockouts", "id=\"start-lockout\""),
                    ("/console/phones", "id=\"phones\""),
                ]
                for (uri, marker) in pages {
                    let page = try await Self.request(client, uri, as: "olga")
                    #expect(page.status == 200, "\(uri): \(page.text.prefix(400))")
                    #expect(page.text.contains(marker), "\(uri) lacks \(marker)")
                    #expect(page.text.contains("olga (operator)"), "\(uri)")
                    #expect(page.headers[.cacheControl] == "no-store")
                    let policy = try #require(page.headers[.contentSecurityPolicy])
                    #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"))
                }
                let script = try await Self.request(client, "/console/static/console.js", as: nil)
                #expect(script.status == 200 && script.text.contains("rootFromInclusion"))
            }
        }
    }

    /// Each console page by role: 200 where the API would answer the same person, 403 where it
    /// would refuse them (the page is the pipeline's own answer, rendered).
    static let pageMatrix: [(page: String, allowed: Set<String>)] = [
        ("/console", ["alice", "drsmith", "olga", "ines"]),
        ("/console/pumps", ["alice", "drsmith", "olga", "ines"]),
        ("/console/pumps/PUMP-0001", ["alice", "drsmith", "olga", "ines"]),
        ("/console/changes", ["alice", "drsmith", "olga", "ines"]),
        ("/console/phones", ["alice", "drsmith", "olga", "ines"]),
        ("/console/audit", ["olga", "ines"]),
        ("/console/audit/checkpoints", ["olga", "ines"]),
        ("/console/api/audit/0", ["olga", "ines"]),
        ("/console/alerts", ["olga", "ines"]),
        ("/console/lockouts", ["olga", "ines"]),
    ]

    @Test("role × page: each console page answers 200 to the roles the API serves and 403 to the others")
    func roleMatrix() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            try await Self.app(fixture).test(.router) { client in
                for (page, allowed) in Self.pageMatrix {
                    for user in ["alice", "drsmith", "olga", "ines"] {
                        let answer = try await Self.request(client, page, as: user)
                        let expected = allowed.contains(user) ? 200 : 403
                        #expect(answer.status == expected, "\(page) as \(user): \(answer.status)")
                    }
                }
            }
        }
    }

    @Test("a patient sees their own pump, gets 403 on another's, and the audit trail is for reviewers only")
    func patientScope() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            try await Self.app(fixture).test(.router) { client in
                let own = try await Self.request(client, "/console/pumps/PUMP-0001", as: "alice")
                #expect(own.status == 200)
                let other = try await Self.request(client, "/console/pumps/PUMP-0002", as: "alice")
                #expect(other.status == 403 && other.text.contains("data-reason=\"not_authorized\""))
                let audit = try await Self.request(client, "/console/audit", as: "alice")
                #expect(audit.status == 403 && audit.text.contains("not_authorized"))
                let proof = try await Self.request(client, "/console/api/audit/0", as: "alice")
                #expect(proof.status == 403)
                let body = try JSONSerialization.jsonObject(with: Data(proof.text.utf8)) as? [String: Any]
                #expect(body?["reason"] as? String == "not_authorized")
            }
        }
    }

    @Test(
        "approve from the inbox: refused without CSRF, refused without a fresh step-up, refused to the requester, done by a second clinician"
    )
    func approveFromInbox() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            try await fixture.setTherapy()
            pump.connect()
            let held = try await fixture.submit(ApprovalTests.suspendAt85, by: "drsmith")
            #expect(held.status == 202)
            let id = held.request.id.rawValue
            try await Self.app(fixture).test(.router) { client in
                let inbox = try await Self.request(client, "/console/changes", as: "drjones")
                #expect(inbox.text.contains("data-change=\"\(id)\""), "\(inbox.text)")
                #expect(inbox.text.contains("suspend threshold 85 mg/dL"))
                let approve = "/console/changes/\(id)/approve"
                let noToken = try await Self.request(
                    client,
                    approve,
                    as: "drjones",
                    method: .post,
                    form: "",
                    stepUp: true
                )
                #expect(noToken.status == 403 && noToken.text.contains("csrf_mismatch"))
                let noStepUp = try await Self.request(
                    client,
                    approve,
                    as: "drjones",
                    method: .post,
                    form: "csrf=\(Self.csrf)"
                )
                #expect(noStepUp.status == 403 && noStepUp.text.contains("data-reason=\"step_up_required\""))
                let requester = try await Self.request(
                    client,
                    approve,
                    as: "drsmith",
                    method: .post,
                    form: "csrf=\(Self.csrf)",
                    stepUp: true
                )
                #expect(requester.status == 403 && requester.text.contains("self_approval"))
                #expect(try await fixture.request(held.request.id).state == .pendingApproval)
                let done = try await Self.request(
                    client,
                    approve,
                    as: "drjones",
                    method: .post,
                    form: "csrf=\(Self.csrf)",
                    stepUp: true
                )
                #expect(done.status == 303)
                #expect(done.headers[.location]?.hasPrefix("/console/changes?done=Approved") == true)
                await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)
                #expect(try await fixture.request(held.request.id).approverID == "drjones")
                let history = try await Self.request(client, "/console/changes/\(id)", as: "drjones")
                #expect(history.text.contains("approved") && history.text.contains("drjones (clinician)"))
            }
        }
    }

    @Test("a lockout started, lift requested and confirmed by two incident users through the console")
    func lockoutTwoPeople() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await Self.app(fixture).test(.router) { client in
                let form = "csrf=\(Self.csrf)&scope=pump%3APUMP-0001&reason=console+test"
                let operatorTry = try await Self.request(
                    client,
                    "/console/lockouts",
                    as: "olga",
                    method: .post,
                    form: form,
                    stepUp: true
                )
                #expect(operatorTry.status == 403)
                let started = try await Self.request(
                    client,
                    "/console/lockouts",
                    as: "ines",
                    method: .post,
                    form: form,
                    stepUp: true
                )
                #expect(started.status == 303, "\(started.text)")
                let lockouts = try await fixture.pipeline.lockoutList(authorization: try await fixture.bearer("ines"))
                let id = try #require(lockouts.first?.lockout.id.rawValue)
                let lift = try await Self.request(
                    client,
                    "/console/lockouts/\(id)/lift",
                    as: "ines",
                    method: .post,
                    form: "csrf=\(Self.csrf)",
                    stepUp: true
                )
                #expect(lift.status == 303)
                let ownConfirm = try await Self.request(
                    client,
                    "/console/lockouts/\(id)/confirm",
                    as: "ines",
                    method: .post,
                    form: "csrf=\(Self.csrf)",
                    stepUp: true
                )
                #expect(ownConfirm.status == 403 && ownConfirm.text.contains("same_person"))
                let page = try await Self.request(client, "/console/lockouts", as: "ivan")
                #expect(page.text.contains("/console/lockouts/\(id)/confirm"))
                let confirm = try await Self.request(
                    client,
                    "/console/lockouts/\(id)/confirm",
                    as: "ivan",
                    method: .post,
                    form: "csrf=\(Self.csrf)",
                    stepUp: true
                )
                #expect(confirm.status == 303)
                let after = try await fixture.pipeline.lockoutDetail(
                    id,
                    authorization: try await fixture.bearer("ivan")
                )
                #expect(after.lockout.stateName == "lifted")
            }
        }
    }

    @Test(
        "audit search by patient pages the matching entries; the proof answered verifies against the signed checkpoint"
    )
    func auditSearchAndProof() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            try await Self.app(fixture).test(.router) { client in
                let page = try await Self.request(client, "/console/audit?patient=patient-001", as: "olga")
                #expect(page.status == 200)
                #expect(page.text.contains("pump.therapy.set"))
                let nobody = try await Self.request(client, "/console/audit?patient=patient-nobody", as: "olga")
                #expect(
                    nobody.status == 200 && nobody.text.contains("id=\"audit-empty\""),
                    "\(nobody.text.suffix(1200))"
                )
                let bad = try await Self.request(client, "/console/audit?kind=nonsense", as: "olga")
                #expect(bad.status == 400 && bad.text.contains("invalid_parameter"))
                let therapy = try #require(try await fixture.entries(of: .pumpTherapySet).first)
                let proof = try await Self.request(client, "/console/api/audit/\(therapy.index)", as: "olga")
                #expect(proof.status == 200)
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(proof.text.utf8)) as? [String: Any]
                )
                let inclusion = try #require(object["inclusion"] as? [String: Any])
                let checkpoint = try #require(object["checkpoint"] as? [String: Any])
                let note = try #require(checkpoint["note"] as? String)
                let body = try fixture.audit.signer.verifier.verify(note: note, context: "test")
                let signed = try Checkpoint(parsing: body, context: "test")
                #expect(inclusion["treeSize"] as? Int == Int(signed.size))
                let base64 = try #require(object["entryBytes"] as? String)
                let bytes = try #require(Data(base64Encoded: base64))
                let hashes = try #require(inclusion["hashes"] as? [String]).map { hex in
                    stride(from: 0, to: hex.count, by: 2).map {
                        UInt8(
                            hex[hex.index(hex.startIndex, offsetBy: $0)..<hex.index(hex.startIndex, offsetBy: $0 + 2)],
                            radix: 16
                        )!
                    }
                }
                try MerkleProof.verifyInclusion(
                    index: therapy.index,
                    size: signed.size,
                    leafHash: RFC9162.leafHash(Array(bytes)),
                    proof: hashes,
                    root: signed.rootHash
                )
                let checkpoints = try await Self.request(client, "/console/audit/checkpoints", as: "olga")
                #expect(checkpoints.text.contains("<td>\(signed.size)</td>"))
            }
        }
    }
}

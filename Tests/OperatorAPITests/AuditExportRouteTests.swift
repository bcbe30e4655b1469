import AuditLog
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OperatorAPI
import Testing

/// `GET /v1/audit/export`: reviewers only, streamed in three formats, each export recorded.
@Suite("Operator API: audit export")
struct AuditExportRouteTests {
    typealias Fixture = OperatorAPITests.Fixture

    struct Answer {
        let status: HTTPResponse.Status
        let contentType: String?
        let body: String
    }

    static func get(_ fixture: Fixture, _ uri: String, user: String?) async throws -> Answer {
        let app = Application(router: fixture.api.router())
        let headers = try await fixture.headers(user: user, authorization: nil)
        return try await app.test(.router) { client in
            try await client.execute(uri: uri, method: .get, headers: headers) { response in
                Answer(
                    status: response.status,
                    contentType: response.headers[.contentType],
                    body: String(buffer: response.body)
                )
            }
        }
    }

    @Test("no token: 401 unauthenticated; a patient or clinician: 403 not_authorized")
    func refusals() async throws {
        let fixture = try await Fixture()
        let none = try await Self.get(fixture, "/v1/audit/export", user: nil)
        #expect(none.status == .unauthorized)
        #expect(try Self.error(none) == ("unauthenticated", "missing"))
        for user in ["alice", "drsmith"] {
            let answer = try await Self.get(fixture, "/v1/audit/export?format=jsonl", user: user)
            #expect(answer.status == .forbidden, "\(user)")
            #expect(try Self.error(answer) == ("forbidden", "not_authorized"))
        }
    }

    @Test(
        "a reviewer gets each format with its content type",
        arguments: [("jsonl", "application/x-ndjson"), ("csv", "text/csv"), ("fhir", "application/fhir+json")]
    )
    func formats(_ format: String, _ contentType: String) async throws {
        let fixture = try await Fixture()
        let size = try await fixture.audit.storedSize()
        let answer = try await Self.get(fixture, "/v1/audit/export?format=\(format)", user: "olga")
        #expect(answer.status == .ok)
        #expect(answer.contentType?.hasPrefix(contentType) == true, "\(answer.contentType ?? "none")")
        switch format {
        case "jsonl":
            #expect(answer.body.split(separator: "\n").count == Int(size))
        case "csv":
            #expect(answer.body.hasPrefix("index,time,actor,role,kind,pump,phone,summary,payload\r\n"))
            #expect(answer.body.components(separatedBy: "\r\n").count == Int(size) + 2)
        default:
            let bundle = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
            #expect(bundle["resourceType"] as? String == "Bundle")
            #expect((bundle["entry"] as? [Any])?.count == Int(size))
        }
    }

    @Test("the export is recorded as audit.export: the reviewer, the format, the filters, the count")
    func recorded() async throws {
        let fixture = try await Fixture()
        let answer = try await Self.get(fixture, "/v1/audit/export?format=csv&kind=account.created", user: "olga")
        #expect(answer.status == .ok)
        let size = try await fixture.audit.storedSize()
        let last = try #require(try await fixture.audit.entries(in: size - 1..<size).first)
        #expect(last.event.kind == .export)
        #expect(last.event.actor.id == "olga" && last.event.actor.role == "operator")
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(last.event.payload)) as? [String: Any])
        #expect(payload["format"] as? String == "csv" && payload["channel"] as? String == "api")
        #expect((payload["filters"] as? [String: String])?["kind"] == "account.created")
        #expect(payload["count"] as? Int == answer.body.components(separatedBy: "\r\n").count - 2)
    }

    @Test(
        "bad parameters: 400 invalid_parameter naming the parameter, and nothing recorded",
        arguments: [
            ("format=xml", "format"), ("since=yesterday", "since"), ("until=31-01-2026", "until"),
            ("kind=Not%20A%20Kind", "kind"),
        ]
    )
    func badParameters(_ query: String, _ parameter: String) async throws {
        let fixture = try await Fixture()
        let before = try await fixture.audit.storedSize()
        let answer = try await Self.get(fixture, "/v1/audit/export?\(query)", user: "olga")
        #expect(answer.status == .badRequest)
        #expect(try Self.error(answer) == ("bad_request", "invalid_parameter"))
        #expect(answer.body.contains("'\(parameter)'"), "\(answer.body)")
        #expect(try await fixture.audit.storedSize() == before)
    }

    static func error(_ answer: Answer) throws -> (String, String) {
        let body = try JSONDecoder().decode(APIError.Body.self, from: Data(answer.body.utf8))
        return (body.error, body.reason)
    }
}

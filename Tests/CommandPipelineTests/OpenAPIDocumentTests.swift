import AccessTokens
import AuditTrail
import AuditWitness
import CommandPipeline
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Logging
import OperatorAPI
import Prometheus
import SecurityEvents
import Testing

/// `GET /openapi.json` against the router it describes: the API with every optional part on
/// (pipeline, events and alerts, audit trail, cosignatures), so that a route added anywhere
/// without being documented, or documented without being served, fails here.
@Suite("Operator API: the OpenAPI document matches the routes")
struct OpenAPIDocumentTests {
    /// The API as the gateway builds it, with everything that adds routes.
    static func fullAPI() async throws -> OperatorAPI {
        let fixture = try await PipelineFixture.make()
        let prometheus = PrometheusCollectorRegistry()
        let events = SecurityEventRecorder(
            store: try SecurityEventStore(stateDirectory: fixture.directory, audit: fixture.audit),
            configuration: .init(),
            logger: Logger(label: "test"),
            clock: { 0 },
            lockout: { _ in nil }
        )
        var api = OperatorAPI(
            pumps: PumpRegistry(metrics: GatewayMetrics(factory: OperatorAPI.metricsFactory(prometheus))),
            phones: PhoneRegistry(),
            store: nil,
            prometheus: prometheus,
            access: APIAccess(pipeline: fixture.pipeline, reads: nil),
            commands: fixture.pipeline,
            events: events,
            audit: AuditTrailSource(pipeline: fixture.pipeline)
        )
        api.cosignatures = CosignatureRoutes(
            store: CosignatureStore(stateDirectory: fixture.directory),
            witnesses: [],
            checkpointNote: { _ in nil }
        )
        return api
    }

    static func document() throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(OperatorAPI.openAPIDocument)) as? [String: Any]
        )
    }

    /// `METHOD /path/{param}` of every operation in the document.
    static func documentedRoutes(_ document: [String: Any]) throws -> Set<String> {
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var routes: Set<String> = []
        for (path, operations) in paths {
            for method in operations.keys { routes.insert("\(method.uppercased()) \(path)") }
        }
        return routes
    }

    @Test("every route the router serves is in the document with its method and path template, and no other")
    func routesMatch() async throws {
        let api = try await Self.fullAPI()
        let served = Set(api.router().routes.map { "\($0.method) \($0.path)" })
        let documented = try Self.documentedRoutes(try Self.document())
        #expect(served.count >= 30, "the fixture lost routes: \(served.sorted())")
        #expect(
            served.subtracting(documented).isEmpty,
            "served but not documented: \(served.subtracting(documented).sorted())"
        )
        #expect(
            documented.subtracting(served).isEmpty,
            "documented but not served: \(documented.subtracting(served).sorted())"
        )
    }

    @Test("GET /openapi.json answers the document without a token; it is OpenAPI 3.1 with bearer JWT security")
    func served() async throws {
        let api = try await Self.fullAPI()
        let app = Application(router: api.router())
        let (status, type, body) = try await app.test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                (response.status, response.headers[.contentType] ?? "", Data(buffer: response.body))
            }
        }
        #expect(status == .ok)
        #expect(type.hasPrefix("application/json"))
        #expect(Array(body) == OperatorAPI.openAPIDocument)
        let document = try Self.document()
        #expect(document["openapi"] as? String == "3.1.0")
        let schemes = (document["components"] as? [String: Any])?["securitySchemes"] as? [String: [String: String]]
        #expect(schemes?["bearerAuth"]?["scheme"] == "bearer")
        #expect(schemes?["bearerAuth"]?["bearerFormat"] == "JWT")
    }

    @Test("the enums of kind filters are the kinds the code accepts")
    func kindEnums() throws {
        let paths = try #require(try Self.document()["paths"] as? [String: [String: [String: Any]]])
        func kindEnum(_ path: String) throws -> Set<String> {
            let parameters = try #require(paths[path]?["get"]?["parameters"] as? [[String: Any]])
            let kind = try #require(parameters.first { $0["name"] as? String == "kind" })
            return Set(try #require((kind["schema"] as? [String: Any])?["enum"] as? [String]))
        }
        #expect(try kindEnum("/v1/events") == SecurityEventKinds.known)
        #expect(try kindEnum("/v1/audit") == Set(AuditKinds.allNames))
    }
}

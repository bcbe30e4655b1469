import AccessTokens
import CommandPipeline
import Foundation
import Gateway
import Hummingbird
import Logging
import OperatorAPI
import Prometheus

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension DemoCommand {
    /// The operator API over HTTP on loopback: a read without a token is 401, alice reads only
    /// her pump and is refused another, and the reads are in the audit log (`access.read`).
    func tellReadAccess(
        _ story: DemoStory,
        gateway: GatewayServer,
        commands: CommandPipeline,
        tokens: [String: String],
        logger: Logger
    ) async throws {
        story.step("Every read of the operator API needs a token, and shows a person only their patients' pumps")
        let reads = AccessReadLog(audit: commands.audit, logger: logger)
        let api = OperatorAPI(
            gateway: gateway,
            prometheus: PrometheusCollectorRegistry(),
            access: APIAccess(pipeline: commands, reads: reads)
        )
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let application = api.application(host: "127.0.0.1", port: 0, logger: logger) { port in
            portSink.yield(port)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try story.require(await iterator.next(), "the operator API did not start")
            let base = "http://127.0.0.1:\(port)"

            let (anonymous, refusal) = try await Self.get(base + "/v1/pumps", token: nil)
            try story.expect(anonymous == 401, "GET /v1/pumps without a token answered \(anonymous)")
            story.line(
                "GET /v1/pumps without a token: 401 \(refusal["error"] as? String ?? "?") (\(refusal["reason"] as? String ?? "?"))"
            )
            let (status, own) = try await Self.get(base + "/v1/pumps", token: tokens["alice"])
            let serials = (own["pumps"] as? [[String: Any]] ?? []).compactMap { $0["serial"] as? String }
            try story.expect(status == 200 && serials == ["PUMP-0001"], "alice read \(status) \(serials)")
            story.line("alice (patient-001) reads \(serials.joined(separator: ", ")) and no other pump")
            let (other, _) = try await Self.get(base + "/v1/pumps/PUMP-0002", token: tokens["alice"])
            try story.expect(other == 403, "alice read PUMP-0002: \(other)")
            story.line("alice asks for PUMP-0002: 403, naming no patient")

            await reads.flush()
            let size = try await commands.audit.checkpoint().checkpoint.size
            let logged = try await commands.audit.entries(in: (size > 50 ? size - 50 : 0)..<size)
                .filter { $0.event.kind.rawValue == "access.read" }
            try story.expect(!logged.isEmpty, "no access.read entry")
            story.line(
                "the reads are in the audit log: \(logged.count) access.read entr\(logged.count == 1 ? "y" : "ies") "
                    + "(batched per reader, not one fsync per request)"
            )
            group.cancelAll()
        }
    }

    static func get(_ url: String, token: String?) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        if let token { request.setValue(token, forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, object ?? [:])
    }
}

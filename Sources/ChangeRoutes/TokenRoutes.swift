public import CommandPipeline
import Foundation
public import Hummingbird

/// `POST /v1/tokens/revoke`: revoke the token presented (empty body), one token by id
/// (`{"jti": ID}`) or every token of a user (`{"user": ID}`): one's own, or anyone's by an admin.
/// 200 `{"revoked": {"jti"|"user": ID}, "auditIndex": N}`; the revoked token is refused from the
/// next request on.
public struct TokenRoutes: Sendable {
    public let pipeline: CommandPipeline

    public init(pipeline: CommandPipeline) {
        self.pipeline = pipeline
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/v1/tokens/revoke") { request, _ in
            await ChangeRoutes.answer {
                var request = request
                let body = try await ChangeRoutes.body(of: &request)
                let revoked = try await self.pipeline.revokeTokens(
                    body: body,
                    authorization: request.headers[.authorization]
                )
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let document: [String: [String: String]] = ["revoked": [revoked.target: revoked.id]]
                var data = try encoder.encode(document)
                // {"auditIndex":N,"revoked":{…}}
                data = Data("{\"auditIndex\":\(revoked.auditIndex),".utf8) + data.dropFirst()
                return ChangeRoutes.json(200, data)
            }
        }
    }
}

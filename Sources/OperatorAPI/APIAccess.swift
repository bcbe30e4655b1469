public import AccessTokens
public import CommandPipeline
import Crypto
import Foundation
import Hummingbird

/// Who may read what through the API: every `/v1` route needs a bearer token; a patient or
/// caregiver reads their patient's pumps, a clinician their patients' pumps, operators, incident
/// staff and admins every pump (``PumpScope``). Reads of patient data are recorded in the audit
/// log (`access.read`, batched by ``AccessReadLog``).
///
/// `/metrics` takes either a bearer token of a reviewer (operator, incident, admin) or the
/// scrape token (`--metrics-token-file`), so Prometheus needs no 12-hour JWT; or it is served
/// without a token on a separate loopback-only listener (`--metrics-listen`).
public struct APIAccess: Sendable {
    let authenticate: @Sendable (String?) async throws(ChangeAPIError) -> AuthenticatedUser
    let scope: @Sendable (AuthenticatedUser) async throws(ChangeAPIError) -> PumpScope
    /// Where reads are recorded; nil: not recorded (tests of the routes alone).
    public let reads: AccessReadLog?
    /// SHA-256 of the scrape token for `/metrics`; nil: only a reviewer's bearer token.
    let metricsTokenDigest: [UInt8]?

    public init(
        authenticate: @escaping @Sendable (String?) async throws(ChangeAPIError) -> AuthenticatedUser,
        scope: @escaping @Sendable (AuthenticatedUser) async throws(ChangeAPIError) -> PumpScope,
        reads: AccessReadLog? = nil,
        metricsToken: String? = nil
    ) {
        self.authenticate = authenticate
        self.scope = scope
        self.reads = reads
        self.metricsTokenDigest = metricsToken.map { Array(SHA256.hash(data: Data($0.utf8))) }
    }

    /// Access through the gateway's command pipeline (its authenticator and the pumps' patients).
    public init(pipeline: CommandPipeline, reads: AccessReadLog?, metricsToken: String? = nil) {
        self.init(
            authenticate: { authorization async throws(ChangeAPIError) in
                try await pipeline.authenticatedUser(authorization)
            },
            scope: { user async throws(ChangeAPIError) in try await pipeline.readScope(of: user) },
            reads: reads,
            metricsToken: metricsToken
        )
    }

    /// The reader of a request and the pumps they may read; a 401 or 503 `APIError` otherwise.
    func reader(_ request: Request) async throws -> Reader {
        do {
            let user = try await authenticate(request.headers[.authorization])
            return Reader(user: user, scope: try await scope(user))
        } catch {
            throw APIError(error)
        }
    }

    /// Records that `reader` was answered data of `pumps` by `route`.
    func recordRead(_ reader: Reader, route: String, pumps: some Sequence<String> & Sendable) async {
        await reads?.record(
            reader: reader.user.account.id,
            role: reader.user.actor.role.rawValue,
            tokenID: reader.user.tokenID,
            route: route,
            pumps: pumps,
            allPumps: false
        )
    }

    /// Whether `/metrics` may be answered: the scrape token, or a reviewer's bearer token.
    func mayScrape(_ request: Request) async throws {
        let header = request.headers[.authorization]
        if let digest = metricsTokenDigest, let header,
            header.lowercased().hasPrefix("bearer "),
            Array(SHA256.hash(data: Data(header.dropFirst(7).utf8))).elementsEqual(digest)
        {
            return
        }
        let reader = try await reader(request)
        guard CommandPipeline.reviewerRoles.contains(reader.user.actor.role) else {
            throw APIError(
                .forbidden,
                "not_authorized",
                "/metrics is for operators, incident staff and admins, or the scrape token (--metrics-token-file)"
            )
        }
    }

    /// An authenticated reader and their scope.
    struct Reader: Sendable {
        let user: AuthenticatedUser
        let scope: PumpScope

        var isReviewer: Bool { CommandPipeline.reviewerRoles.contains(user.actor.role) }

        /// 403 unless `serial` is in scope: the same answer for a pump that does not exist.
        func require(_ serial: String) throws {
            guard scope.contains(serial) else { throw APIError(CommandPipeline.notYourPump(serial)) }
        }
    }
}

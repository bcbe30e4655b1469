import AccessTokens
import AuditLog
public import Foundation
import SafetyPolicy

extension CommandPipeline {
    /// What `POST /v1/tokens/revoke` revoked.
    public struct TokenRevocation: Sendable, Hashable {
        /// `jti` or `user`.
        public let target: String
        public let id: String
        public let auditIndex: UInt64
    }

    /// `POST /v1/tokens/revoke`: body empty (the token presented), `{"jti": ID}` or
    /// `{"user": ID}` (every token of the user issued up to now). Anyone may revoke their own
    /// token or all of their own; an admin any. Refused: 400 `invalid_input`, 403
    /// `not_authorized` (audited), 503 when this gateway keeps no revocations.
    public nonisolated func revokeTokens(
        body: Data,
        authorization: String?
    ) async throws(ChangeAPIError)
        -> TokenRevocation
    {
        let user = try await authenticate(authorization)
        guard let revocations = authenticator.revocations else {
            throw ChangeAPIError(status: 503, reason: "unavailable", message: "this gateway keeps no token revocations")
        }
        var jti: String?
        var subject: String?
        if !body.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                Set(object.keys).isSubset(of: ["jti", "user"]), object.count <= 1
            else {
                throw .badRequest(
                    "invalid_input",
                    "the body must be empty (this token), {\"jti\": ID} or {\"user\": ID}"
                )
            }
            guard object.values.allSatisfy({ $0 is String }) else {
                throw .badRequest("invalid_input", "jti and user must be strings")
            }
            jti = object["jti"] as? String
            subject = object["user"] as? String
        }
        if jti == nil && subject == nil { jti = user.tokenID }
        let own = (jti != nil && jti == user.tokenID) || (subject != nil && subject == user.account.id)
        guard own || user.actor.role == .admin else {
            throw await denied(
                user,
                operation: "revoke_tokens",
                target: jti.map { "token \($0)" } ?? "the tokens of \(subject ?? "")",
                serial: nil,
                message:
                    "\(user.account.id) (\(user.actor.role)) may revoke only their own tokens; an admin revokes others'"
            )
        }
        let actor: AuditActor
        do {
            actor = try AuditActor(id: user.account.id, role: user.actor.role.rawValue)
        } catch {
            throw .internal(error)
        }
        do {
            if let subject {
                let outcome = try await revocations.revokeAll(ofUser: subject, by: actor, now: clock(), audit: audit)
                return TokenRevocation(target: "user", id: subject, auditIndex: outcome.auditIndex)
            }
            let id = jti ?? user.tokenID
            let outcome = try await revocations.revoke(
                tokenID: id,
                userID: id == user.tokenID ? user.account.id : "",
                by: actor,
                now: clock(),
                audit: audit
            )
            return TokenRevocation(target: "jti", id: id, auditIndex: outcome.auditIndex)
        } catch let error as TokenError where error.code == .invalidRevocation {
            throw .badRequest("invalid_input", error.reason)
        } catch {
            throw .internal(error)
        }
    }
}

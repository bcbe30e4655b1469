import AuditLog
import Foundation

/// The payload of an `auth.token_revoked` entry: one token (`tokenId`, with its user when
/// known) or every token of a user issued up to `before` (ms).
///
/// `{"schema":"medtunnel.token-revocation.v1","tokenId":"…","user":"alice","at":1763700000000}`
/// `{"schema":"medtunnel.token-revocation.v1","user":"alice","before":1763700000000,"at":…}`
struct TokenRevocationRecord: Codable, Equatable {
    static let schemaName = "medtunnel.token-revocation.v1"

    var schema = Self.schemaName
    var tokenId: String?
    var user: String?
    var before: Int64?
    let at: Int64

    init(tokenID: String, userID: String, at: Int64) {
        self.tokenId = tokenID
        self.user = userID.isEmpty ? nil : userID
        self.at = at
    }

    init(userID: String, before: Int64, at: Int64) {
        self.user = userID
        self.before = before
        self.at = at
    }

    func event(by actor: AuditActor) throws -> AuditEvent {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try AuditEvent(
            timeMilliseconds: at,
            actor: actor,
            kind: .tokenRevoked,
            payload: Array(try encoder.encode(self))
        )
    }
}

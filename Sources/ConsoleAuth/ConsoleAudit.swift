import AuditLog
import Foundation

/// The console's audit entries: `{"user": …, "session": REF, "reason": CODE, …}`, JSON with
/// sorted keys. Only ids, references and error codes: never a token, challenge or key.
enum ConsoleAudit {
    static func record(
        _ kind: AuditKind,
        audit: AuditLog,
        actor: (id: String, role: String),
        nowMilliseconds: Int64,
        fields: [String: String]
    ) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let who: AuditActor
        do {
            who = try AuditActor(id: actor.id, role: actor.role)
        } catch {
            // An id that is no account's (a sign-in by an unknown credential) is logged as such.
            who = try AuditActor(id: "unknown", role: "anonymous")
        }
        _ = try await audit.append(
            try AuditEvent(
                timeMilliseconds: nowMilliseconds,
                actor: who,
                kind: kind,
                payload: Array(try encoder.encode(fields))
            )
        )
    }
}

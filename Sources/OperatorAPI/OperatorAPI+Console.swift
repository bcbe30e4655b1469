import AuditTrail
public import Hummingbird

/// The audit answers the web console's script checks in the browser: the same bytes as
/// `GET /v1/audit/{index}` and `GET /v1/audit/checkpoint`, for a caller that has already
/// established the reader is a reviewer (the console does, by its session).
extension OperatorAPI {
    /// The entry, its bytes and inclusion proof against a signed checkpoint, and its pump.
    public func auditEntryResponse(_ index: String) async throws -> (Response, String?) {
        guard let audit = self.audit else {
            throw APIError(.notFound, "no_audit_log", "this gateway serves no audit log")
        }
        return try await AuditRoutes(source: audit, access: self.access).entry(index)
    }

    /// The latest signed checkpoint with witnesses' cosignatures (JSON when asked for it).
    public func auditCheckpointResponse(_ request: Request) async throws -> Response {
        guard let audit = self.audit else {
            throw APIError(.notFound, "no_audit_log", "this gateway serves no audit log")
        }
        return try await AuditRoutes(source: audit, access: self.access).checkpoint(request)
    }
}

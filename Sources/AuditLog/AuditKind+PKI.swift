extension AuditKind {
    /// A pump's or phone's certificate was revoked (`medtunnel pki revoke`): the gateway refuses
    /// it from then on and closes its live sessions. Recorded before the revocation list changes.
    public static let pkiRevoked = AuditKind(known: "pki.revoked")
    /// A revocation was lifted (`medtunnel pki unrevoke`). Recorded before the list changes.
    public static let pkiUnrevoked = AuditKind(known: "pki.unrevoked")
}

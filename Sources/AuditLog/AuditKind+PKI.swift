extension AuditKind {
    /// A pump's or phone's certificate was revoked (`medtunnel pki revoke`): the gateway refuses
    /// it from then on and closes its live sessions. Recorded before the revocation list changes.
    public static let pkiRevoked = AuditKind(known: "pki.revoked")
    /// A revocation was lifted (`medtunnel pki unrevoke`). Recorded before the list changes.
    public static let pkiUnrevoked = AuditKind(known: "pki.unrevoked")
}

extension AuditKind {
    /// A patient paired a pump by the code it showed (`POST /v1/pairings`): the pump is bound to
    /// the patient (and their phone). The payload holds the nonce's hash, never the code.
    public static let pumpPaired = AuditKind(known: "pump.paired")
    /// One party (the patient or a clinician of theirs) asked to unpair a pump.
    public static let pumpUnpairRequested = AuditKind(known: "pump.unpair_requested")
    /// One party asked to transfer a pump to another patient.
    public static let pumpTransferRequested = AuditKind(known: "pump.transfer_requested")
    /// The second party confirmed: the pump is bound to no one.
    public static let pumpUnpaired = AuditKind(known: "pump.unpaired")
    /// The second party confirmed: the pump is bound to another patient.
    public static let pumpTransferred = AuditKind(known: "pump.transferred")
}

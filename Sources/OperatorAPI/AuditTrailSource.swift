public import AuditLog
public import AuditTrail
public import AuditWitness
public import CommandPipeline

/// What the audit routes read: the gateway's log and, for the `patient` filter, the patient each
/// pump is bound to by pairing.
public struct AuditTrailSource: Sendable {
    public let log: AuditLog
    public let pumpPatient: AuditScan.PumpPatient
    /// Witnesses' cosignatures, added to the checkpoint `GET /v1/audit/checkpoint` serves; nil:
    /// the log's own signature only.
    public var cosignatures: CosignatureStore?

    public init(log: AuditLog, pumpPatient: @escaping AuditScan.PumpPatient) {
        self.log = log
        self.pumpPatient = pumpPatient
    }

    /// The command pipeline's log and its pairing bindings (`CommandPipeline.pumpPatient`).
    public init(pipeline: CommandPipeline) {
        self.init(log: pipeline.audit) { serial in try await pipeline.pumpPatient(serial) }
    }
}

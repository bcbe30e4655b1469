public import TherapyModel

/// Something a pump, its session or its phone did that the gateway must not ignore: audited
/// (`security.event`) before it is reported.
///
/// | kind                          | when                                                         |
/// |-------------------------------|--------------------------------------------------------------|
/// | `acknowledgement_rejected`    | an acknowledgement for the command in flight does not verify (`reason`: `bad_signature`, `wrong_serial`, `not_the_answer`); the command stays in flight |
/// | `unexpected_acknowledgement`  | a verified acknowledgement for no command in flight or uncertain (a replay or duplicate) |
/// | `malformed_acknowledgement`   | an acknowledgement frame that does not decode                |
/// | `settings_mismatch`           | the settings digest in a hello or acknowledgement differs from the settings the gateway expects: deliveries and new changes for the pump wait for a clinician to set its therapy again |
/// | `pump_ahead_of_gateway`       | the pump reports a sequence above any the gateway sent       |
/// | `sequence_replayed_by_pump`   | the pump refused a fresh command as replayed: the gateway's sequence fell behind |
/// | `unsettled_command`           | a hello cannot settle an uncertain command                   |
/// | `acknowledgement_timeout`     | no acknowledgement in time: the session is ended (the command becomes uncertain) |
/// | `pump_storage_failed`         | the pump could not persist a command: uncertain until its next hello |
/// | `pump_key_unavailable`        | no certificate to verify the pump's acknowledgements with: the session is ended |
public struct PipelineSecurityEvent: Sendable, Hashable {
    public let kind: String
    public let serial: String
    /// A stable code where there is one (`bad_signature`, …), else empty.
    public let reason: String
    /// Sequences, digests' first bytes, codes: never keys or whole payloads.
    public let detail: String
    public let time: Timestamp
    /// The `security.event` entry; nil if the audit log refused it.
    public let auditIndex: UInt64?
}

/// Every kind of security event the gateway records, for `GET /v1/events?kind=` (an unknown kind
/// is a 400, not an empty answer) and the rules file.
public enum SecurityEventKinds {
    public static let known: Set<String> = [
        // Sessions and TLS (the gateway's registry).
        "handshake_failed", "tunnel_failed", "relay_handshake_failed", "relay_tunnel_failed", "relay_error",
        "relay_identity_rejected", "relay_protocol_violation", "relay_shut_out", "protocol_violation",
        "duplicate_session", "error", "revoked_session_closed",
        // Commands (the command pipeline).
        "acknowledgement_rejected", "unexpected_acknowledgement", "malformed_acknowledgement", "settings_mismatch",
        "pump_ahead_of_gateway", "sequence_replayed_by_pump", "unsettled_command", "acknowledgement_timeout",
        "pump_storage_failed", "pump_key_unavailable", "lockout_refused_by_pump", "pump_reports_unknown_lockout",
        "pump_model_mismatch",
    ]
}

/// One security event as the gateway observed it: a tunnel that failed because a phone relay
/// tampered with or cut records, a command left uncertain, a policy rejection, a settings
/// mismatch, a handshake with a revoked certificate, a pump connecting through a phone.
///
/// The aggregator decides how the event is written to the audit log; the rule engine decides
/// whether it, together with the events before it, makes a rule fire.
public struct ObservedEvent: Sendable, Hashable {
    /// When the gateway observed the event, in milliseconds since 1970.
    public var timeMilliseconds: Int64
    /// `tunnel_failed`, `relay_tunnel_failed`, `handshake_failed`, `relay_handshake_failed`,
    /// `command_uncertain`, `command_not_applied`, `policy_rejection`, `settings_mismatch`,
    /// `pump_connected`, ...
    public var kind: String
    /// The machine-readable reason, e.g. the TLS error code (`recordRejected`, `truncated`,
    /// `certificateRevoked`); nil when the kind says it all.
    public var reason: String?
    /// The pump's serial, when known.
    public var pump: String?
    /// The id of the phone that carried the bytes, when a relay did.
    public var phone: String?
    /// For an event nobody authenticated: the remote IP address, without the port.
    public var source: String?
    /// A human summary for the audit log.
    public var detail: String

    public init(
        timeMilliseconds: Int64,
        kind: String,
        reason: String? = nil,
        pump: String? = nil,
        phone: String? = nil,
        source: String? = nil,
        detail: String = ""
    ) {
        self.timeMilliseconds = timeMilliseconds
        self.kind = kind
        self.reason = reason
        self.pump = pump
        self.phone = phone
        self.source = source
        self.detail = detail
    }

    /// Who the event is about in the audit log: the pump, else the phone, else the remote
    /// address, else `unknown`.
    public var auditSubject: String { self.pump ?? self.phone ?? self.source ?? "unknown" }
}

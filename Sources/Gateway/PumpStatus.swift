public import TunnelProtocol

/// What the gateway knows about one pump.
public struct PumpStatus: Sendable, Equatable {
    public let serial: String
    public var connected: Bool
    public var firmware: String?
    public var lastSeenMilliseconds: Int64
    public var sessions: Int
    public var resumedSessions: Int
    public var lastTelemetry: InnerMessage.Telemetry?
    public var telemetryStored: Int
    /// How the current or last session's bytes came: `direct ADDRESS` or `phone ID`.
    public var carrier: String? = nil
    /// When the gateway received ``lastTelemetry``.
    public var lastTelemetryReceivedMilliseconds: Int64? = nil

    /// The phone that carries (or last carried) the pump, if it came through a relay.
    public var phone: String? { phoneID(carrier: self.carrier) }

    public init(
        serial: String,
        connected: Bool,
        firmware: String?,
        lastSeenMilliseconds: Int64,
        sessions: Int,
        resumedSessions: Int,
        lastTelemetry: InnerMessage.Telemetry?,
        telemetryStored: Int,
        carrier: String? = nil,
        lastTelemetryReceivedMilliseconds: Int64? = nil
    ) {
        self.serial = serial
        self.connected = connected
        self.firmware = firmware
        self.lastSeenMilliseconds = lastSeenMilliseconds
        self.sessions = sessions
        self.resumedSessions = resumedSessions
        self.lastTelemetry = lastTelemetry
        self.telemetryStored = telemetryStored
        self.carrier = carrier
        self.lastTelemetryReceivedMilliseconds = lastTelemetryReceivedMilliseconds
    }
}

/// A security-relevant event: handshake failures with their reason, tampered records,
/// duplicate sessions, revoked devices.
public struct SecurityEvent: Sendable, Equatable {
    public let timeMilliseconds: Int64
    /// `handshake_failed`, `relay_handshake_failed`, `tunnel_failed`, `relay_tunnel_failed`,
    /// `duplicate_session`, `protocol_violation`, `relay_protocol_violation`, ...
    public let kind: String
    /// The pump serial, or `phone ID`, when known (for a refused certificate: the identity it named).
    public let device: String?
    public let detail: String
    /// How the device's bytes came, when known: `direct ADDRESS` or `phone ID` (so a
    /// misbehaving phone can be identified from the events it carried).
    public var carrier: String? = nil
    /// The machine-readable reason: the `GatewayTLSError` code of a TLS failure
    /// (`certificateRevoked`, `recordRejected`, ...).
    public var reason: String? = nil

    public init(
        timeMilliseconds: Int64,
        kind: String,
        device: String?,
        detail: String,
        carrier: String? = nil,
        reason: String? = nil
    ) {
        self.timeMilliseconds = timeMilliseconds
        self.kind = kind
        self.device = device
        self.detail = detail
        self.carrier = carrier
        self.reason = reason
    }

    /// The phone that carried the device's bytes, if a relay did.
    public var phone: String? { phoneID(carrier: self.carrier) }

    /// Kinds that count as handshake failures (in metrics, by reason).
    public static let handshakeFailureKinds: Set<String> = ["handshake_failed", "relay_handshake_failed"]
}

/// The phone id in a carrier name `phone ID`; nil for `direct ADDRESS`.
func phoneID(carrier: String?) -> String? {
    guard let carrier, carrier.hasPrefix("phone ") else { return nil }
    return String(carrier.dropFirst("phone ".count))
}

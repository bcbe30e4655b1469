import MedTunnelIdentity
import Synchronization
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
}

/// A security-relevant event: handshake failures with their reason, tampered records,
/// duplicate sessions, revoked devices.
public struct SecurityEvent: Sendable, Equatable {
    public let timeMilliseconds: Int64
    public let kind: String
    public let device: String?
    public let detail: String
    /// How the device's bytes came, when known: `direct ADDRESS` or `phone ID` (so a
    /// misbehaving phone can be identified from the events it carried).
    public var carrier: String? = nil
}

/// The connected pumps and what they last said. Called from event loops, so it is a
/// lock-protected class with short critical sections rather than an actor.
public final class PumpRegistry: Sendable {
    private struct State {
        var pumps: [String: PumpStatus] = [:]
        var events: [SecurityEvent] = []
    }
    private let state = Mutex(State())
    /// Security events kept in memory (the audit log keeps them for good).
    public static let maximumEvents = 1_000

    public init() {}

    /// Records a new session and returns its number for this pump, which ``sessionEnded``
    /// takes: a session that ends after a newer one started must not mark the pump gone.
    @discardableResult
    public func sessionStarted(serial: String, resumed: Bool, now: Int64, carrier: String? = nil) -> Int {
        self.state.withLock { state in
            var pump =
                state.pumps[serial]
                ?? PumpStatus(
                    serial: serial,
                    connected: false,
                    firmware: nil,
                    lastSeenMilliseconds: now,
                    sessions: 0,
                    resumedSessions: 0,
                    lastTelemetry: nil,
                    telemetryStored: 0
                )
            pump.connected = true
            pump.carrier = carrier
            pump.sessions += 1
            if resumed { pump.resumedSessions += 1 }
            pump.lastSeenMilliseconds = now
            state.pumps[serial] = pump
            return pump.sessions
        }
    }

    public func hello(serial: String, firmware: String, now: Int64) {
        self.state.withLock { state in
            state.pumps[serial]?.firmware = firmware
            state.pumps[serial]?.lastSeenMilliseconds = now
        }
    }

    /// Stores telemetry once per sequence number. Returns false for a duplicate or an older
    /// sequence (a replay, or a resend after a lost acknowledgement).
    public func storeTelemetry(serial: String, _ telemetry: InnerMessage.Telemetry, now: Int64) -> Bool {
        self.state.withLock { state in
            guard var pump = state.pumps[serial] else { return false }
            pump.lastSeenMilliseconds = now
            defer { state.pumps[serial] = pump }
            if let last = pump.lastTelemetry, telemetry.sequence <= last.sequence { return false }
            pump.lastTelemetry = telemetry
            pump.telemetryStored += 1
            return true
        }
    }

    /// Ends session number `session` of the pump; the pump stays connected if a newer
    /// session has replaced this one.
    public func sessionEnded(serial: String, session: Int, now: Int64) {
        self.state.withLock { state in
            guard state.pumps[serial]?.sessions == session else { return }
            state.pumps[serial]?.connected = false
            state.pumps[serial]?.lastSeenMilliseconds = now
        }
    }

    public func record(_ event: SecurityEvent) {
        self.state.withLock { state in
            state.events.append(event)
            if state.events.count > Self.maximumEvents {
                state.events.removeFirst(state.events.count - Self.maximumEvents)
            }
        }
    }

    public func pump(_ serial: String) -> PumpStatus? { self.state.withLock { $0.pumps[serial] } }
    public var pumps: [PumpStatus] { self.state.withLock { $0.pumps.values.sorted { $0.serial < $1.serial } } }
    public var events: [SecurityEvent] { self.state.withLock { $0.events } }
}

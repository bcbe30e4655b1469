import Foundation
import Gateway
public import Hummingbird
import SecurityEvents
import TelemetryStore
import TherapyJSON
import TunnelProtocol

/// The JSON the operator API answers with. Times are ISO 8601 (UTC, milliseconds); insulin in
/// integer milliunits, rates in milliunits per hour, glucose in mg/dL.
public enum APIJSON {
    public struct Pump: ResponseCodable, Equatable, Sendable {
        public let serial: String
        public let connected: Bool
        /// The phone that carries (or last carried) the pump; null for a direct connection.
        public let phone: String?
        /// How the pump's bytes came: `phone ID` or `direct ADDRESS`.
        public let carrier: String?
        public let lastSeen: String
        public let firmware: String?
        public let sessions: Int
        public let resumedSessions: Int
        public let telemetryStored: Int
    }

    public struct PumpDetail: ResponseCodable, Equatable, Sendable {
        public let pump: Pump
        public let latestTelemetry: Telemetry?
        /// What the command pipeline knows (nil without one).
        public let commands: Commands?
    }

    /// A pump as the command pipeline knows it: its lockout state on both sides, its model and
    /// firmware from its hello, the last sequence it reported applied.
    public struct Commands: ResponseCodable, Equatable, Sendable {
        public struct Lockout: Codable, Equatable, Sendable {
            /// `locked` when a lockout of the gateway covers the pump, else `unlocked`.
            public let gateway: String
            /// The lockouts in force over the pump.
            public let lockouts: [String]
            /// What the pump last said: `locked`, `unlocked`, or null before its first hello here.
            public let reported: String?
        }
        public let connected: Bool
        public let model: String?
        public let firmware: String?
        public let lastAppliedSequence: UInt64?
        public let inFlightSequence: UInt64?
        public let settingsHeld: String?
        public let lockout: Lockout
        /// What the pump reported about itself, each reading with its age (null: never reported).
        public let clinical: Clinical
    }

    /// The pump's reported clinical state as the policy reads it: a reading older than its limit
    /// (`stale: true`) counts as unknown.
    public struct Clinical: Codable, Equatable, Sendable {
        public struct Reading: Codable, Equatable, Sendable {
            public let value: Int64
            public let ageSeconds: Int64
            public let stale: Bool
        }
        /// 1 suspended, 0 delivering.
        public let suspended: Reading?
        public let reservoirMilliunits: Reading?
        public let glucoseMgPerDL: Reading?
        public let batteryPercent: Reading?
        /// By the prescription's insulin model and the gateway's delivery history.
        public let insulinOnBoardMilliunits: Int64?
    }

    public struct Telemetry: ResponseCodable, Equatable, Sendable {
        public let sequence: UInt64
        /// The pump's clock when it took the reading (milliseconds, as the pump sent it).
        public let pumpTimeMilliseconds: Int64
        public let received: String?
        public let reservoirMilliunits: UInt32
        public let basalRateMilliunitsPerHour: UInt32
        /// Null when the pump had no glucose reading.
        public let glucoseMgPerDL: UInt16?
        public let batteryPercent: UInt8
        /// `suspended`, `lockedOut`, `occlusion`.
        public let flags: [String]
    }

    public struct Pumps: ResponseCodable, Equatable, Sendable {
        public let pumps: [Pump]
    }

    public struct Phone: ResponseCodable, Equatable, Sendable {
        public let id: String
        public let connected: Bool
        /// Pumps whose live session this phone carries now.
        public let pumps: [String]
        public let uplinks: Int
        public let streamsOpen: Int
        public let streamsTotal: Int
        /// Pump ciphertext carried, both directions.
        public let bytesFromPhone: Int
        public let bytesToPhone: Int
        /// Now for a connected phone; else when its last uplink ended.
        public let lastSeen: String
        public let remote: String?
    }

    public struct Phones: ResponseCodable, Equatable, Sendable {
        public let phones: [Phone]
    }

    public struct Event: ResponseCodable, Equatable, Sendable {
        public let time: String
        public let kind: String
        public let device: String?
        public let phone: String?
        public let carrier: String?
        public let reason: String?
        public let detail: String
        /// The audit entry that records it (nil for events kept in memory only).
        public var auditIndex: UInt64? = nil
        /// How many events the entry stands for (a flood's minute is one entry with a count).
        public var count: Int? = nil
        /// The remote address of an unauthenticated peer.
        public var source: String? = nil
    }

    public struct Events: ResponseCodable, Equatable, Sendable {
        /// Newest first.
        public let events: [Event]
    }

    public struct Health: ResponseCodable, Equatable, Sendable {
        /// `ok`, or `failing` when the telemetry store or the audit log refuses writes.
        public var status: String
        public let telemetryStore: String
        /// `ok`, or why the audit log stopped taking appends (its disk or database failed); absent
        /// on a gateway without the command pipeline.
        public var auditLog: String? = nil
        public let pumpsConnected: Int
        public let phonesConnected: Int
        /// This gateway node's id (`--node-id`, default the host name).
        public var node: String? = nil
        /// Its node lease in the shared database; absent on a gateway whose log is not on
        /// PostgreSQL (one node, nothing to share).
        public var lease: Lease? = nil
    }

    public struct Lease: ResponseCodable, Equatable, Sendable {
        /// `held`, or `none` (not taken yet, or lost: nothing is delivered).
        public let state: String
        public let epoch: Int64?
        /// Milliseconds before its local deadline, when held.
        public let remainingMilliseconds: Int64?
        /// Pumps whose sessions this node carries and owns; pumps waiting for another node to let go.
        public let ownedPumps: Int
        public let waitingPumps: Int
        /// Roles this node plays (`checkpoint`: it signs the log's checkpoints).
        public let roles: [String]
        /// The last failure talking to the database about leases, until one succeeds.
        public let lastError: String?
    }
}

extension APIJSON {
    /// `2026-01-02T03:04:05.678Z`, from integer milliseconds (no floating-point rounding).
    static func time(_ milliseconds: Int64) -> String {
        ISO8601Time.format(milliseconds: milliseconds)
    }

    static func pump(_ status: PumpStatus) -> Pump {
        Pump(
            serial: status.serial,
            connected: status.connected,
            phone: status.phone,
            carrier: status.carrier,
            lastSeen: self.time(status.lastSeenMilliseconds),
            firmware: status.firmware,
            sessions: status.sessions,
            resumedSessions: status.resumedSessions,
            telemetryStored: status.telemetryStored
        )
    }

    static func telemetry(_ telemetry: InnerMessage.Telemetry, received: Int64?) -> Telemetry {
        var flags: [String] = []
        if telemetry.flags.contains(.suspended) { flags.append("suspended") }
        if telemetry.flags.contains(.lockedOut) { flags.append("lockedOut") }
        if telemetry.flags.contains(.occlusion) { flags.append("occlusion") }
        return Telemetry(
            sequence: telemetry.sequence,
            pumpTimeMilliseconds: telemetry.timeMilliseconds,
            received: received.map(self.time),
            reservoirMilliunits: telemetry.reservoirMilliunits,
            basalRateMilliunitsPerHour: telemetry.basalRateMilliunitsPerHour,
            glucoseMgPerDL: telemetry.glucoseMgPerDL == 0 ? nil : telemetry.glucoseMgPerDL,
            batteryPercent: telemetry.batteryPercent,
            flags: flags
        )
    }

    static func telemetry(_ record: TelemetryRecord) -> Telemetry {
        self.telemetry(record.telemetry, received: record.receivedMilliseconds)
    }

    static func phone(_ status: PhoneStatus, carrying pumps: [String]) -> Phone {
        Phone(
            id: status.id,
            connected: status.connected,
            pumps: pumps,
            uplinks: status.uplinks,
            streamsOpen: status.streamsOpen,
            streamsTotal: status.streamsTotal,
            bytesFromPhone: status.bytesFromPhone,
            bytesToPhone: status.bytesToPhone,
            lastSeen: self.time(status.lastSeenMilliseconds),
            remote: status.remote
        )
    }

    static func event(_ event: StoredSecurityEvent) -> Event {
        Event(
            time: self.time(event.timeMilliseconds),
            kind: event.kind,
            device: event.pump,
            phone: event.phone,
            carrier: event.phone.map { "phone \($0)" },
            reason: event.reason,
            detail: event.detail,
            auditIndex: event.auditIndex,
            count: event.count,
            source: event.source
        )
    }

    static func event(_ event: SecurityEvent) -> Event {
        Event(
            time: self.time(event.timeMilliseconds),
            kind: event.kind,
            device: event.device,
            phone: event.phone,
            carrier: event.carrier,
            reason: event.reason,
            detail: event.detail
        )
    }
}

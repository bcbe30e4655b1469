public import TunnelProtocol

/// One pump as the store keeps it: what it said about itself and how it was last reached.
public struct PumpRecord: Sendable, Equatable {
    public var serial: String
    public var firmware: String?
    public var lastSeenMilliseconds: Int64
    /// How the last session's bytes came: `direct ADDRESS` or `phone ID`.
    public var carrier: String?
    public var sessions: Int
    public var resumedSessions: Int

    public init(
        serial: String,
        firmware: String?,
        lastSeenMilliseconds: Int64,
        carrier: String?,
        sessions: Int,
        resumedSessions: Int
    ) {
        self.serial = serial
        self.firmware = firmware
        self.lastSeenMilliseconds = lastSeenMilliseconds
        self.carrier = carrier
        self.sessions = sessions
        self.resumedSessions = resumedSessions
    }
}

/// One stored telemetry message, with when and how the gateway received it.
public struct TelemetryRecord: Sendable, Equatable {
    public var serial: String
    public var telemetry: InnerMessage.Telemetry
    public var receivedMilliseconds: Int64
    public var carrier: String?

    public init(serial: String, telemetry: InnerMessage.Telemetry, receivedMilliseconds: Int64, carrier: String?) {
        self.serial = serial
        self.telemetry = telemetry
        self.receivedMilliseconds = receivedMilliseconds
        self.carrier = carrier
    }
}

/// What the store held for one pump when it was opened: the gateway's registry starts from it.
public struct StoredPump: Sendable, Equatable {
    public var pump: PumpRecord
    /// The telemetry with the highest sequence, if any.
    public var latestTelemetry: TelemetryRecord?
    /// How many telemetry messages are stored for the pump.
    public var telemetryCount: Int
}

/// A write for the store's writer thread.
public enum TelemetryWrite: Sendable {
    /// Stores the message unless its (serial, sequence) is already stored.
    case telemetry(TelemetryRecord)
    /// Inserts or updates the pump's row (a snapshot: the newest one wins).
    case pump(PumpRecord)
    /// Writes nothing; its completion runs once every write queued before it is durable.
    case barrier
}

/// How many writes the store did, for metrics and benchmarks.
public struct TelemetryStoreStatistics: Sendable, Equatable {
    /// Transactions committed (each one fsync with `synchronous=FULL`).
    public var commits = 0
    /// Telemetry rows inserted.
    public var telemetryInserted = 0
    /// Telemetry writes ignored because (serial, sequence) was already stored.
    public var telemetryDuplicates = 0
    /// Writes refused because the queue was full.
    public var refusedQueueFull = 0
    /// The most writes waiting at once.
    public var largestQueue = 0
    /// The largest batch committed in one transaction.
    public var largestBatch = 0
    /// Batches tried again because the shared database did not answer.
    public var unavailableRetries = 0
    /// Writes failed because the store closed while the shared database did not answer.
    public var unwrittenAtClose = 0
}

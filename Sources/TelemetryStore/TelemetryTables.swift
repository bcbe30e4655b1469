import SQLiteStore
import TunnelProtocol

/// The SQL of the telemetry store, on one connection. Not thread-safe: the writer thread owns
/// one instance, readers another.
///
/// ```
/// pumps      serial TEXT PRIMARY KEY, firmware TEXT, last_seen_ms INTEGER, carrier TEXT,
///            sessions INTEGER, resumed_sessions INTEGER
/// telemetry  serial TEXT, sequence INTEGER, pump_time_ms INTEGER, received_ms INTEGER,
///            reservoir_mu INTEGER, basal_mu_per_h INTEGER, glucose_mg_dl INTEGER,
///            battery_percent INTEGER, flags INTEGER, carrier TEXT,
///            UNIQUE (serial, sequence)      -- each sequence is stored once, across restarts
/// ```
/// Sequences are u64 on the wire and stored as SQLite's signed 64-bit integer with the same
/// bits; the "latest" order is only right below 2^63, which a pump sending one message a
/// second reaches after 292 billion years.
final class TelemetryTables {
    static let schemaVersion = 1
    let connection: SQLiteConnection
    private var insertTelemetry: SQLiteStatement?
    private var upsertPump: SQLiteStatement?

    init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Creates the tables if missing and checks the schema version.
    func createSchema() throws {
        let version = Int(try self.connection.pragma("user_version")) ?? 0
        guard version <= Self.schemaVersion else {
            throw TelemetryStoreError(
                .schemaMismatch,
                "\(self.connection.path) has schema version \(version); this gateway knows \(Self.schemaVersion). Use a newer medtunnel or another --state-dir"
            )
        }
        try self.connection.writeTransaction {
            try self.connection.execute(
                """
                CREATE TABLE IF NOT EXISTS pumps (
                    serial TEXT PRIMARY KEY NOT NULL,
                    firmware TEXT,
                    last_seen_ms INTEGER NOT NULL,
                    carrier TEXT,
                    sessions INTEGER NOT NULL,
                    resumed_sessions INTEGER NOT NULL
                );
                CREATE TABLE IF NOT EXISTS telemetry (
                    serial TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    pump_time_ms INTEGER NOT NULL,
                    received_ms INTEGER NOT NULL,
                    reservoir_mu INTEGER NOT NULL,
                    basal_mu_per_h INTEGER NOT NULL,
                    glucose_mg_dl INTEGER NOT NULL,
                    battery_percent INTEGER NOT NULL,
                    flags INTEGER NOT NULL,
                    carrier TEXT,
                    UNIQUE (serial, sequence)
                );
                PRAGMA user_version = \(Self.schemaVersion);
                """
            )
        }
    }

    /// Applies one write inside the caller's transaction. Returns whether a telemetry row
    /// was inserted (false for a duplicate and for other writes).
    func apply(_ write: TelemetryWrite) throws -> Bool {
        switch write {
        case .telemetry(let record):
            let statement =
                try self.insertTelemetry
                ?? self.connection.prepare(
                    """
                    INSERT INTO telemetry (serial, sequence, pump_time_ms, received_ms, reservoir_mu, basal_mu_per_h,
                        glucose_mg_dl, battery_percent, flags, carrier)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (serial, sequence) DO NOTHING
                    """
                )
            self.insertTelemetry = statement
            let t = record.telemetry
            try statement.bind(record.serial, at: 1)
            try statement.bind(Int64(bitPattern: t.sequence), at: 2)
            try statement.bind(t.timeMilliseconds, at: 3)
            try statement.bind(record.receivedMilliseconds, at: 4)
            try statement.bind(Int64(t.reservoirMilliunits), at: 5)
            try statement.bind(Int64(t.basalRateMilliunitsPerHour), at: 6)
            try statement.bind(Int64(t.glucoseMgPerDL), at: 7)
            try statement.bind(Int64(t.batteryPercent), at: 8)
            try statement.bind(Int64(t.flags.rawValue), at: 9)
            try self.bind(record.carrier, statement, at: 10)
            try statement.run()
            return self.connection.changes == 1
        case .pump(let pump):
            let statement =
                try self.upsertPump
                ?? self.connection.prepare(
                    """
                    INSERT INTO pumps (serial, firmware, last_seen_ms, carrier, sessions, resumed_sessions)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (serial) DO UPDATE SET
                        firmware = coalesce(excluded.firmware, firmware), last_seen_ms = excluded.last_seen_ms,
                        carrier = coalesce(excluded.carrier, carrier), sessions = excluded.sessions,
                        resumed_sessions = excluded.resumed_sessions
                    """
                )
            self.upsertPump = statement
            try statement.bind(pump.serial, at: 1)
            try self.bind(pump.firmware, statement, at: 2)
            try statement.bind(pump.lastSeenMilliseconds, at: 3)
            try self.bind(pump.carrier, statement, at: 4)
            try statement.bind(Int64(pump.sessions), at: 5)
            try statement.bind(Int64(pump.resumedSessions), at: 6)
            try statement.run()
            return false
        case .barrier:
            return false
        }
    }

    private func bind(_ text: String?, _ statement: SQLiteStatement, at index: Int32) throws {
        if let text { try statement.bind(text, at: index) } else { try statement.bindNull(at: index) }
    }

    // MARK: Reads

    func pumps() throws -> [PumpRecord] {
        let statement = try self.connection.prepare(
            "SELECT serial, firmware, last_seen_ms, carrier, sessions, resumed_sessions FROM pumps ORDER BY serial"
        )
        var pumps: [PumpRecord] = []
        while try statement.step() {
            pumps.append(
                PumpRecord(
                    serial: statement.text(0),
                    firmware: statement.isNull(1) ? nil : statement.text(1),
                    lastSeenMilliseconds: statement.int64(2),
                    carrier: statement.isNull(3) ? nil : statement.text(3),
                    sessions: Int(statement.int64(4)),
                    resumedSessions: Int(statement.int64(5))
                )
            )
        }
        return pumps
    }

    /// The pump's newest telemetry first, at most `limit`.
    func telemetry(serial: String, limit: Int) throws -> [TelemetryRecord] {
        let statement = try self.connection.prepare(
            """
            SELECT sequence, pump_time_ms, received_ms, reservoir_mu, basal_mu_per_h, glucose_mg_dl,
                battery_percent, flags, carrier
            FROM telemetry WHERE serial = ? ORDER BY sequence DESC LIMIT ?
            """
        )
        try statement.bind(serial, at: 1)
        try statement.bind(Int64(limit), at: 2)
        var records: [TelemetryRecord] = []
        while try statement.step() {
            let telemetry = InnerMessage.Telemetry(
                sequence: UInt64(bitPattern: statement.int64(0)),
                timeMilliseconds: statement.int64(1),
                reservoirMilliunits: UInt32(truncatingIfNeeded: statement.int64(3)),
                basalRateMilliunitsPerHour: UInt32(truncatingIfNeeded: statement.int64(4)),
                glucoseMgPerDL: UInt16(truncatingIfNeeded: statement.int64(5)),
                batteryPercent: UInt8(truncatingIfNeeded: statement.int64(6)),
                flags: .init(rawValue: UInt8(truncatingIfNeeded: statement.int64(7)))
            )
            records.append(
                TelemetryRecord(
                    serial: serial,
                    telemetry: telemetry,
                    receivedMilliseconds: statement.int64(2),
                    carrier: statement.isNull(8) ? nil : statement.text(8)
                )
            )
        }
        return records
    }

    func telemetryCount(serial: String) throws -> Int {
        let statement = try self.connection.prepare("SELECT count(*) FROM telemetry WHERE serial = ?")
        try statement.bind(serial, at: 1)
        return try statement.step() ? Int(statement.int64(0)) : 0
    }

    /// Every pump with its newest telemetry and its count, in one snapshot.
    func storedPumps() throws -> [StoredPump] {
        try self.connection.readTransaction {
            try self.pumps().map { pump in
                StoredPump(
                    pump: pump,
                    latestTelemetry: try self.telemetry(serial: pump.serial, limit: 1).first,
                    telemetryCount: try self.telemetryCount(serial: pump.serial)
                )
            }
        }
    }
}

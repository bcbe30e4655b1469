import SQLiteStore
import TunnelProtocol

/// The SQL of the telemetry store, on one connection, in the SQL both engines speak: the same
/// code reads and writes PostgreSQL's copy of these tables (`PostgresAuditSchema` version 6).
/// Not thread-safe: the writer thread owns one instance, readers another.
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
    let connection: any SQLDatabase
    /// The database's name for messages: a path, or a URL without its password.
    let name: String
    private var insertTelemetry: (any SQLStatement)?
    private var upsertPump: (any SQLStatement)?

    init(connection: SQLiteConnection) {
        self.connection = connection
        self.name = connection.path
    }

    /// Tables in a shared database, made by its migrations.
    init(shared connection: any SQLDatabase, name: String) {
        self.connection = connection
        self.name = name
    }

    /// Creates the tables if missing and checks the schema version (SQLite; PostgreSQL's are
    /// made by its migrations).
    func createSchema(_ connection: SQLiteConnection) throws {
        let version = Int(try connection.pragma("user_version")) ?? 0
        guard version <= Self.schemaVersion else {
            throw TelemetryStoreError(
                .schemaMismatch,
                "\(connection.path) has schema version \(version); this gateway knows \(Self.schemaVersion). Use a newer medtunnel or another --state-dir"
            )
        }
        try connection.writeTransaction {
            try connection.execute(
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
                    ON CONFLICT (serial, sequence) DO NOTHING RETURNING 1
                    """
                )
            self.insertTelemetry = statement
            // A row back: inserted; none: that sequence was stored already (both engines say so
            // alike, where SQLite's change count has no PostgreSQL twin here).
            statement.reset()
            defer { statement.reset() }
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
            try statement.bind(record.carrier, at: 10)
            return try statement.step()
        case .pump(let pump):
            let statement =
                try self.upsertPump
                ?? self.connection.prepare(
                    """
                    INSERT INTO pumps (serial, firmware, last_seen_ms, carrier, sessions, resumed_sessions)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (serial) DO UPDATE SET
                        firmware = coalesce(excluded.firmware, pumps.firmware), last_seen_ms = excluded.last_seen_ms,
                        carrier = coalesce(excluded.carrier, pumps.carrier), sessions = excluded.sessions,
                        resumed_sessions = excluded.resumed_sessions
                    """
                )
            self.upsertPump = statement
            statement.reset()
            try statement.bind(pump.serial, at: 1)
            try statement.bind(pump.firmware, at: 2)
            try statement.bind(pump.lastSeenMilliseconds, at: 3)
            try statement.bind(pump.carrier, at: 4)
            try statement.bind(Int64(pump.sessions), at: 5)
            try statement.bind(Int64(pump.resumedSessions), at: 6)
            try statement.run()
            return false
        case .barrier:
            return false
        }
    }

    // MARK: Reads

    func pumps() throws -> [PumpRecord] {
        let statement = try self.connection.prepare(
            "SELECT serial, firmware, last_seen_ms, carrier, sessions, resumed_sessions FROM pumps ORDER BY serial"
        )
        var pumps: [PumpRecord] = []
        while try statement.step() { pumps.append(Self.pumpRecord(statement)) }
        return pumps
    }

    /// A pump's row from columns 0…5: serial, firmware, last_seen_ms, carrier, sessions,
    /// resumed_sessions.
    private static func pumpRecord(_ statement: any SQLStatement) -> PumpRecord {
        PumpRecord(
            serial: statement.text(0),
            firmware: statement.isNull(1) ? nil : statement.text(1),
            lastSeenMilliseconds: statement.int64(2),
            carrier: statement.isNull(3) ? nil : statement.text(3),
            sessions: Int(statement.int64(4)),
            resumedSessions: Int(statement.int64(5))
        )
    }

    /// Every pump (or the one with `serial`) with the number of its telemetry records, in one
    /// statement: the newest record is not read (a list of every pump must not cost a read per
    /// pump).
    func pumpSummaries(serial: String?) throws -> [StoredPump] {
        let statement = try self.connection.prepare(
            """
            SELECT p.serial, p.firmware, p.last_seen_ms, p.carrier, p.sessions, p.resumed_sessions,
                (SELECT count(*) FROM telemetry t WHERE t.serial = p.serial)
            FROM pumps p \(serial == nil ? "" : "WHERE p.serial = ? ")ORDER BY p.serial
            """
        )
        if let serial { try statement.bind(serial, at: 1) }
        var pumps: [StoredPump] = []
        while try statement.step() {
            pumps.append(
                StoredPump(
                    pump: Self.pumpRecord(statement),
                    latestTelemetry: nil,
                    telemetryCount: Int(statement.int64(6))
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
        try self.snapshot {
            try self.pumps().map { pump in
                StoredPump(
                    pump: pump,
                    latestTelemetry: try self.telemetry(serial: pump.serial, limit: 1).first,
                    telemetryCount: try self.telemetryCount(serial: pump.serial)
                )
            }
        }
    }

    /// `body` on one snapshot on SQLite. On PostgreSQL the statements read one after another:
    /// other nodes write meanwhile anyway, so one snapshot would be a moment's view all the same.
    private func snapshot<T>(_ body: () throws -> T) throws -> T {
        guard let sqlite = self.connection as? SQLiteConnection else { return try body() }
        return try sqlite.readTransaction(body)
    }
}

import Foundation
import SQLiteStore
import Synchronization

/// What pumps said and when they were seen, in SQLite (`STATE/gateway.sqlite`, WAL,
/// `synchronous=FULL`).
///
/// Writes go through ``submit(_:completion:)``: a bounded queue that a dedicated writer thread
/// drains in batches, one transaction (one fsync) per batch, so callers on event loops never
/// wait for the disk. A completion runs on the writer thread once its write is durable;
/// the gateway acknowledges telemetry to the pump only then. Each (serial, sequence) is
/// stored once, also across restarts (`UNIQUE (serial, sequence)`).
///
/// Reads (``telemetry(serial:limit:)``, ``storedPumps()``) use a second connection and block:
/// call them from a thread pool, not an event loop.
public final class TelemetryStore: Sendable {
    /// The database file's name in the gateway's state directory.
    public static let fileName = "gateway.sqlite"
    /// Writes allowed to wait at once; past that ``submit(_:completion:)`` throws `queueFull`.
    public static let defaultQueueLimit = 10_000
    /// Writes committed in one transaction at most.
    public static let maximumBatch = 1_000

    public let path: String
    /// Every pump the store held when it was opened, with its newest telemetry.
    public let initialPumps: [StoredPump]
    private let writer: TelemetryWriter
    private let reader: Mutex<TelemetryTables?> = Mutex(nil)

    /// Opens (creating if needed) `DIRECTORY/gateway.sqlite`.
    public convenience init(directory: String, queueLimit: Int = TelemetryStore.defaultQueueLimit) throws {
        try self.init(
            path: URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path,
            queueLimit: queueLimit
        )
    }

    public init(path: String, queueLimit: Int = TelemetryStore.defaultQueueLimit) throws {
        self.path = path
        let connection = try SQLiteConnection(path: path)
        try connection.apply(.walFull)
        let tables = TelemetryTables(connection: connection)
        try tables.createSchema()
        self.initialPumps = try tables.storedPumps()
        self.writer = TelemetryWriter(tables: tables, limit: queueLimit, maximumBatch: Self.maximumBatch)
    }

    deinit { self.writer.stop() }

    /// Queues a write. `completion` runs on the writer thread after the write's transaction
    /// committed (durable) or failed. Throws without queueing when the queue is full, the
    /// store is closed, or an earlier commit failed.
    public func submit(
        _ write: TelemetryWrite,
        completion: (@Sendable (Result<Void, TelemetryStoreError>) -> Void)? = nil
    ) throws(TelemetryStoreError) {
        try self.writer.submit(write, completion: completion)
    }

    /// Waits until every write queued so far is durable.
    public func flush() async throws(TelemetryStoreError) {
        let result: Result<Void, TelemetryStoreError> = await withCheckedContinuation { continuation in
            do throws(TelemetryStoreError) {
                try self.writer.submit(.barrier) { continuation.resume(returning: $0) }
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        try result.get()
    }

    /// Commits what is queued, refuses later writes and stops the writer thread. Blocks
    /// until the last commit is durable. Safe to call twice.
    public func close() {
        self.writer.close()
        self.reader.withLock { $0 = nil }
    }

    public var statistics: TelemetryStoreStatistics { self.writer.statistics }

    /// The failure that made the store refuse writes, if one did.
    public var failure: TelemetryStoreError? { self.writer.currentFailure }

    // MARK: Reads (blocking)

    /// The pump's newest telemetry first, at most `limit` records.
    public func telemetry(serial: String, limit: Int) throws -> [TelemetryRecord] {
        try self.read { try $0.telemetry(serial: serial, limit: limit) }
    }

    public func telemetryCount(serial: String) throws -> Int {
        try self.read { try $0.telemetryCount(serial: serial) }
    }

    /// Every pump with its newest telemetry and count, as committed now.
    public func storedPumps() throws -> [StoredPump] {
        try self.read { try $0.storedPumps() }
    }

    private func read<T: Sendable>(_ body: (TelemetryTables) throws -> T) throws -> T {
        try self.reader.withLock { reader in
            let tables: TelemetryTables
            if let reader {
                tables = reader
            } else {
                tables = TelemetryTables(
                    connection: try SQLiteConnection(path: self.path, create: false, readOnly: true)
                )
                reader = tables
            }
            return try body(tables)
        }
    }
}

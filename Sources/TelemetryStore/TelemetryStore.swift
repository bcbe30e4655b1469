import Foundation
public import SQLiteStore
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
/// Reads (``telemetry(serial:limit:)``, ``storedPumps()``) use a second connection. Their
/// synchronous forms block the calling thread; from async code, their async forms run on a
/// thread of the store's own, so a slow disk or a database that stops answering (each statement
/// bounded, 5 s) holds none of the cooperative pool's threads, which the whole gateway shares.
///
/// ## Shared by several gateway nodes
/// On the audit log's PostgreSQL database (`init(sharedWriter:reader:name:)`, tables of schema
/// version 6) every node reads what every node wrote: the node holding a pump's session writes
/// its telemetry, any node lists it. Nothing is audited. While the database does not answer,
/// the writer keeps its batch and tries it again every `retryDelay`: writes wait in the queue
/// (still bounded by `queueLimit`, the held batch counted; past it `submit` refuses `queueFull`,
/// counted in `refusedQueueFull`) and their completions run once they are written. Only other
/// failures (a statement the server refuses) stop the store as on SQLite.
public final class TelemetryStore: Sendable {
    /// The database file's name in the gateway's state directory.
    public static let fileName = "gateway.sqlite"
    /// Writes allowed to wait at once; past that ``submit(_:completion:)`` throws `queueFull`.
    public static let defaultQueueLimit = 10_000
    /// Writes committed in one transaction at most.
    public static let maximumBatch = 1_000

    /// The database file, or on a shared database its URL without the password.
    public let path: String
    /// Every pump the store held when it was opened, with its newest telemetry.
    public let initialPumps: [StoredPump]
    private let writer: TelemetryWriter
    private let reader: Mutex<TelemetryTables?>
    /// Where the async reads wait for the database, one after another (they share `reader`).
    private let readQueue = DispatchQueue(label: "medtunnel.telemetry.reads")
    /// Whether the tables are in a database shared with other nodes (the reader is then given,
    /// not opened here).
    private let shared: Bool

    /// Opens (creating if needed) `DIRECTORY/gateway.sqlite`.
    public convenience init(directory: String, queueLimit: Int = TelemetryStore.defaultQueueLimit) throws {
        try self.init(
            path: URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path,
            queueLimit: queueLimit
        )
    }

    public init(path: String, queueLimit: Int = TelemetryStore.defaultQueueLimit) throws {
        self.path = path
        self.reader = Mutex(nil)
        let connection = try SQLiteConnection(path: path)
        try connection.apply(.walFull)
        let tables = TelemetryTables(connection: connection)
        try tables.createSchema(connection)
        self.initialPumps = try tables.storedPumps()
        self.shared = false
        self.writer = TelemetryWriter(tables: tables, limit: queueLimit, maximumBatch: Self.maximumBatch)
    }

    /// The store on a database shared with other gateway nodes, whose migrations made its
    /// tables (version 6): `writer` for the writer thread alone, `reader` for the reads (each
    /// blocks the thread it is called on). `name` names it in messages (no password).
    /// `retryDelay`: how long the writer waits before trying a batch again while the database
    /// does not answer.
    public init(
        sharedWriter writer: sending any SQLDatabase,
        reader: sending any SQLDatabase,
        name: String,
        queueLimit: Int = TelemetryStore.defaultQueueLimit,
        retryDelay: Duration = .seconds(1)
    ) throws {
        self.path = name
        self.shared = true
        let readTables = TelemetryTables(shared: reader, name: name)
        self.initialPumps = try readTables.storedPumps()
        self.reader = Mutex(readTables)
        self.writer = TelemetryWriter(
            tables: TelemetryTables(shared: writer, name: name),
            limit: queueLimit,
            maximumBatch: Self.maximumBatch,
            retryDelay: retryDelay
        )
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

    /// Every pump in the store (or the one with `serial`) with its telemetry count, without its
    /// newest record (`latestTelemetry` is nil), in one statement.
    public func pumpSummaries(serial: String? = nil) throws -> [StoredPump] {
        try self.read { try $0.pumpSummaries(serial: serial) }
    }

    // MARK: Reads from async code (on the store's read thread)

    /// ``telemetry(serial:limit:)`` without holding the caller's thread.
    public func telemetry(serial: String, limit: Int) async throws -> [TelemetryRecord] {
        try await self.offTheCallersThread { try self.telemetry(serial: serial, limit: limit) }
    }

    /// ``telemetryCount(serial:)`` without holding the caller's thread.
    public func telemetryCount(serial: String) async throws -> Int {
        try await self.offTheCallersThread { try self.telemetryCount(serial: serial) }
    }

    /// ``storedPumps()`` without holding the caller's thread.
    public func storedPumps() async throws -> [StoredPump] {
        try await self.offTheCallersThread { try self.storedPumps() }
    }

    /// ``pumpSummaries(serial:)`` without holding the caller's thread.
    public func pumpSummaries(serial: String? = nil) async throws -> [StoredPump] {
        try await self.offTheCallersThread { try self.pumpSummaries(serial: serial) }
    }

    private func offTheCallersThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            self.readQueue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Whether the store is the database every gateway node shares (its pumps include those
    /// other nodes saw).
    public var isShared: Bool { self.shared }

    private func read<T: Sendable>(_ body: (TelemetryTables) throws -> T) throws -> T {
        try self.reader.withLock { reader in
            let tables: TelemetryTables
            if let reader {
                tables = reader
            } else if self.shared {
                throw TelemetryStoreError(.closed, "the store is closed")
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

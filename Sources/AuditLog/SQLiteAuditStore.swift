import SQLiteStore

/// The default audit store: one SQLite file in WAL mode with `synchronous=FULL`.
///
/// Schema (version 1):
///
///     entry(idx INTEGER PRIMARY KEY, body BLOB, leaf_hash BLOB)   -- canonical entry bytes
///     tree_node(id INTEGER PRIMARY KEY, hash BLOB)                -- id = MerkleNodeID.storageKey
///     checkpoint(size INTEGER PRIMARY KEY, note TEXT)             -- C2SP signed notes
///
/// All SQLite calls run on the store's own thread (`SQLiteExecutor`), never on the cooperative pool.
public actor SQLiteAuditStore: AuditStore {
    public static let schemaVersion = 1

    private let executor: SQLiteExecutor
    private let connection: SQLiteConnection
    private let path: String

    public nonisolated var unownedExecutor: UnownedSerialExecutor { self.executor.asUnownedSerialExecutor() }

    /// Opens the database at `path`; creates it and its schema when `create` is true.
    public init(path: String, create: Bool = true) throws {
        try self.init(path: path, create: create, readOnly: false)
    }

    /// Opens an existing database for reading only, leaving its file exactly as it is (no
    /// journal mode applied, nothing created): for a copy whose checksum must not move, such as
    /// a backup being verified.
    public init(readingOnly path: String) throws {
        try self.init(path: path, create: false, readOnly: true)
    }

    private init(path: String, create: Bool, readOnly: Bool) throws {
        self.path = path
        self.executor = SQLiteExecutor(name: "audit-sqlite")
        do {
            self.connection = try Self.openConnection(path: path, create: create, readOnly: readOnly)
        } catch {
            self.executor.shutdown()
            throw error
        }
    }

    private static func openConnection(path: String, create: Bool, readOnly: Bool) throws -> SQLiteConnection {
        do {
            let connection = try SQLiteConnection(path: path, create: create, readOnly: readOnly)
            if !readOnly { try connection.apply(.walFull) }
            let version = Int(try connection.pragma("user_version")) ?? 0
            if version == 0 && create {
                try connection.writeTransaction {
                    try connection.execute(
                        """
                        CREATE TABLE IF NOT EXISTS entry(idx INTEGER PRIMARY KEY, body BLOB NOT NULL, leaf_hash BLOB NOT NULL);
                        CREATE TABLE IF NOT EXISTS tree_node(id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
                        CREATE TABLE IF NOT EXISTS checkpoint(size INTEGER PRIMARY KEY, note TEXT NOT NULL);
                        PRAGMA user_version = \(Self.schemaVersion);
                        """
                    )
                }
            } else if version != Self.schemaVersion {
                throw AuditLogError(
                    .storageFailure,
                    "\(path): audit schema version \(version), expected \(Self.schemaVersion)"
                )
            }
            return connection
        } catch let error as SQLiteError {
            throw AuditLogError(.storageFailure, "\(path): \(error.reason)")
        }
    }

    deinit { self.executor.shutdown() }

    public func size() throws -> UInt64 {
        try self.storage("read size") { try self.currentSize() }
    }

    public func append(_ batch: AuditBatch) throws {
        try self.storage("append at index \(batch.firstIndex)") {
            try self.connection.writeTransaction {
                let stored = try self.currentSize()
                guard stored == batch.firstIndex else {
                    throw AuditLogError(
                        .concurrentWriter,
                        "\(self.path): holds \(stored) entries, this writer expected \(batch.firstIndex)"
                    )
                }
                try self.insert(batch)
            }
        }
    }

    /// The tip is read inside the write transaction (BEGIN IMMEDIATE holds SQLite's write lock
    /// from its start), so the batch lands exactly where it was built for.
    public func appendAtTip<Result: Sendable>(
        _ build: @Sendable (AuditTip) throws -> (AuditBatch, Result)
    ) throws -> Result {
        try self.storage("append at the tip") {
            try self.connection.writeTransaction {
                let size = try self.currentSize()
                let tip = AuditTip(
                    size: size,
                    rightEdge: try self.readHashes(of: MerkleNodeID.decompose(0..<size)),
                    checkpointedSize: try self.readCheckpointsInTransaction(
                        "SELECT size, note FROM checkpoint ORDER BY size DESC LIMIT 1"
                    ).first?.size ?? 0
                )
                let (batch, result) = try build(tip)
                guard batch.firstIndex == size else {
                    throw AuditLogError(
                        .concurrentWriter,
                        "\(self.path): a batch built for \(size) starts at \(batch.firstIndex)"
                    )
                }
                try self.insert(batch)
                return result
            }
        }
    }

    private func insert(_ batch: AuditBatch) throws {
        let insertEntry = try self.connection.prepare(
            "INSERT INTO entry(idx, body, leaf_hash) VALUES (?, ?, ?)"
        )
        for entry in batch.entries {
            try insertEntry.bind(Int64(entry.index), at: 1)
            try insertEntry.bind(entry.body, at: 2)
            try insertEntry.bind(entry.leafHash, at: 3)
            try insertEntry.run()
        }
        let insertNode = try self.connection.prepare("INSERT INTO tree_node(id, hash) VALUES (?, ?)")
        for node in batch.nodes {
            try insertNode.bind(node.key, at: 1)
            try insertNode.bind(node.hash, at: 2)
            try insertNode.run()
        }
        if let checkpoint = batch.checkpoint {
            try self.insertCheckpoint(checkpoint)
        }
    }

    public func storeCheckpoint(size: UInt64, note: String) throws {
        try self.storage("store checkpoint \(size)") {
            try self.connection.writeTransaction {
                try self.insertCheckpoint(StoredCheckpoint(size: size, note: note))
            }
        }
    }

    public func hashes(of nodes: [MerkleNodeID]) throws -> [[UInt8]] {
        try self.storage("read tree hashes") {
            try self.connection.readTransaction { try self.readHashes(of: nodes) }
        }
    }

    /// Inside a transaction the caller holds.
    private func readHashes(of nodes: [MerkleNodeID]) throws -> [[UInt8]] {
        let leaf = try self.connection.prepare("SELECT leaf_hash FROM entry WHERE idx = ?")
        let node = try self.connection.prepare("SELECT hash FROM tree_node WHERE id = ?")
        return try nodes.map { id in
            let statement = id.level == 0 ? leaf : node
            defer { statement.reset() }
            try statement.bind(id.level == 0 ? Int64(id.index) : id.storageKey, at: 1)
            guard try statement.step() else {
                throw AuditLogError(.nodeMismatch, "\(self.path): \(id) is missing from the store")
            }
            return statement.blob(0)
        }
    }

    public func entries(in range: Range<UInt64>) throws -> [StoredEntry] {
        try self.storage("read entries \(range)") {
            let statement = try self.connection.prepare(
                "SELECT idx, body, leaf_hash FROM entry WHERE idx >= ? AND idx < ? ORDER BY idx"
            )
            try statement.bind(Int64(clamping: range.lowerBound), at: 1)
            try statement.bind(Int64(clamping: range.upperBound), at: 2)
            var rows: [StoredEntry] = []
            while try statement.step() {
                rows.append(
                    StoredEntry(index: UInt64(statement.int64(0)), body: statement.blob(1), leafHash: statement.blob(2))
                )
            }
            return rows
        }
    }

    public func nodes(after key: Int64, limit: Int) throws -> [StoredNode] {
        try self.storage("read tree nodes") {
            let statement = try self.connection.prepare(
                "SELECT id, hash FROM tree_node WHERE id > ? ORDER BY id LIMIT ?"
            )
            try statement.bind(key, at: 1)
            try statement.bind(Int64(limit), at: 2)
            var rows: [StoredNode] = []
            while try statement.step() {
                rows.append(StoredNode(key: statement.int64(0), hash: statement.blob(1)))
            }
            return rows
        }
    }

    public func checkpoints() throws -> [StoredCheckpoint] {
        try self.readCheckpoints("SELECT size, note FROM checkpoint ORDER BY size")
    }

    public func latestCheckpoint() throws -> StoredCheckpoint? {
        try self.readCheckpoints("SELECT size, note FROM checkpoint ORDER BY size DESC LIMIT 1").first
    }

    // MARK: Helpers

    private func currentSize() throws -> UInt64 {
        let statement = try self.connection.prepare("SELECT coalesce(max(idx) + 1, 0) FROM entry")
        try statement.step()
        return UInt64(statement.int64(0))
    }

    private func insertCheckpoint(_ checkpoint: StoredCheckpoint) throws {
        let statement = try self.connection.prepare("INSERT OR IGNORE INTO checkpoint(size, note) VALUES (?, ?)")
        try statement.bind(Int64(checkpoint.size), at: 1)
        try statement.bind(checkpoint.note, at: 2)
        try statement.run()
    }

    private func readCheckpoints(_ sql: String) throws -> [StoredCheckpoint] {
        try self.storage("read checkpoints") { try self.readCheckpointsInTransaction(sql) }
    }

    private func readCheckpointsInTransaction(_ sql: String) throws -> [StoredCheckpoint] {
        let statement = try self.connection.prepare(sql)
        var rows: [StoredCheckpoint] = []
        while try statement.step() {
            rows.append(StoredCheckpoint(size: UInt64(statement.int64(0)), note: statement.text(1)))
        }
        return rows
    }

    /// Runs `body`, turning SQLite errors into `.storageFailure` errors that name the operation.
    private func storage<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw AuditLogError(.storageFailure, "\(self.path): \(operation): \(error.reason)")
        }
    }
}

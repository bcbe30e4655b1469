/// Where an audit log keeps its entries, tree nodes and checkpoints.
///
/// The SQLite store is the default; a PostgreSQL store implements the same protocol. Stores are
/// dumb and untrusted: the log computes every hash and signature, and the verifier recomputes them
/// from the raw rows a store returns. A store only has to be atomic and durable.
public protocol AuditStore: Sendable {
    /// The number of entries stored (the index the next entry gets).
    func size() async throws -> UInt64

    /// Writes `batch` in one transaction and returns only when it is durable (for SQLite: committed
    /// in WAL mode with `synchronous=FULL`). Throws `.concurrentWriter` if the stored size is not
    /// `batch.firstIndex` and `.storageFailure` if the write fails; nothing of a failed batch is kept.
    func append(_ batch: AuditBatch) async throws

    /// Writes the batch `build` makes for the store's tip as read under the store's write lock,
    /// in one transaction, so that no other writer (another process on the same database) can
    /// append between the read and the write; returns what `build` returns beside the batch.
    /// Durable as `append`. The log's path after `append` lost a race with another writer.
    func appendAtTip<Result: Sendable>(
        _ build: @Sendable (AuditTip) throws -> (AuditBatch, Result)
    ) async throws -> Result

    /// Stores a signed checkpoint of an existing size (durably, as `append`).
    func storeCheckpoint(size: UInt64, note: String) async throws

    /// The hashes of complete subtrees: level 0 from the entries' leaf hashes, the others from the
    /// stored interior nodes. Throws if one is missing.
    func hashes(of nodes: [MerkleNodeID]) async throws -> [[UInt8]]

    /// The stored rows for `range`, in index order; a missing row is simply absent.
    func entries(in range: Range<UInt64>) async throws -> [StoredEntry]

    /// Up to `limit` interior nodes with a storage key above `key`, in key order.
    func nodes(after key: Int64, limit: Int) async throws -> [StoredNode]

    /// Every stored signed checkpoint, by size.
    func checkpoints() async throws -> [StoredCheckpoint]

    /// The stored checkpoint of the largest size, if any.
    func latestCheckpoint() async throws -> StoredCheckpoint?
}

/// A row of the entry table, exactly as stored: nothing in it has been checked.
public struct StoredEntry: Hashable, Sendable {
    public let index: UInt64
    public let body: [UInt8]
    public let leafHash: [UInt8]

    public init(index: UInt64, body: [UInt8], leafHash: [UInt8]) {
        self.index = index
        self.body = body
        self.leafHash = leafHash
    }
}

/// A stored interior node hash, keyed by `MerkleNodeID.storageKey`.
public struct StoredNode: Hashable, Sendable {
    public let key: Int64
    public let hash: [UInt8]

    public init(key: Int64, hash: [UInt8]) {
        self.key = key
        self.hash = hash
    }
}

/// A stored checkpoint row: the size column and the signed note, unchecked.
public struct StoredCheckpoint: Hashable, Sendable {
    public let size: UInt64
    public let note: String

    public init(size: UInt64, note: String) {
        self.size = size
        self.note = note
    }
}

/// One group commit: consecutive entries, the interior nodes they complete, and optionally a
/// checkpoint of the tree after them.
public struct AuditBatch: Sendable {
    public let firstIndex: UInt64
    public let entries: [StoredEntry]
    public let nodes: [StoredNode]
    public let checkpoint: StoredCheckpoint?

    public init(firstIndex: UInt64, entries: [StoredEntry], nodes: [StoredNode], checkpoint: StoredCheckpoint?) {
        self.firstIndex = firstIndex
        self.entries = entries
        self.nodes = nodes
        self.checkpoint = checkpoint
    }
}

/// What a writer needs of the store's current state to append at its end.
public struct AuditTip: Sendable {
    /// The number of entries stored.
    public let size: UInt64
    /// The hashes of `MerkleNodeID.decompose(0..<size)`: the tree's right edge.
    public let rightEdge: [[UInt8]]
    /// The size of the latest stored checkpoint (0 when none).
    public let checkpointedSize: UInt64

    public init(size: UInt64, rightEdge: [[UInt8]], checkpointedSize: UInt64) {
        self.size = size
        self.rightEdge = rightEdge
        self.checkpointedSize = checkpointedSize
    }
}

extension AuditStore {
    /// For a store with a single writer (tests, tools): the tip read, then `append`, without a
    /// lock held between them; a concurrent writer makes it throw `.concurrentWriter`.
    public func appendAtTip<Result: Sendable>(
        _ build: @Sendable (AuditTip) throws -> (AuditBatch, Result)
    ) async throws -> Result {
        let size = try await self.size()
        let tip = AuditTip(
            size: size,
            rightEdge: try await self.hashes(of: MerkleNodeID.decompose(0..<size)),
            checkpointedSize: try await self.latestCheckpoint()?.size ?? 0
        )
        let (batch, result) = try build(tip)
        try await self.append(batch)
        return result
    }
}

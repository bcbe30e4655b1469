import AuditLog

/// An `AuditStore` in memory, for tree tests and as the failing-store double.
actor InMemoryAuditStore: AuditStore {
    private var rows: [StoredEntry] = []
    private var interior: [Int64: [UInt8]] = [:]
    private var signed: [UInt64: String] = [:]
    /// When set, appends fail once this many batches have been written.
    private var failAfterBatches: Int?
    /// The number of batches written (group commits).
    private(set) var batches = 0
    /// A pause inside each append, standing in for the fsync a real store waits for.
    private let commitLatency: Duration

    init(failAfterBatches: Int? = nil, commitLatency: Duration = .zero) {
        self.failAfterBatches = failAfterBatches
        self.commitLatency = commitLatency
    }

    func setFailure(afterBatches: Int?) { self.failAfterBatches = afterBatches }

    func size() -> UInt64 { UInt64(self.rows.count) }

    func append(_ batch: AuditBatch) async throws {
        if self.commitLatency > .zero { try await Task.sleep(for: self.commitLatency) }
        if let limit = self.failAfterBatches, self.batches >= limit {
            throw AuditLogError(.storageFailure, "in-memory store: injected write failure")
        }
        guard batch.firstIndex == UInt64(self.rows.count) else {
            throw AuditLogError(.concurrentWriter, "in-memory store: size \(self.rows.count)")
        }
        self.batches += 1
        self.rows += batch.entries
        for node in batch.nodes { self.interior[node.key] = node.hash }
        if let checkpoint = batch.checkpoint { self.signed[checkpoint.size] = checkpoint.note }
    }

    func storeCheckpoint(size: UInt64, note: String) { self.signed[size] = note }

    func hashes(of nodes: [MerkleNodeID]) throws -> [[UInt8]] {
        try nodes.map { id in
            if id.level == 0 {
                guard id.index < UInt64(self.rows.count) else { throw AuditLogError(.nodeMismatch, "missing \(id)") }
                return self.rows[Int(id.index)].leafHash
            }
            guard let hash = self.interior[id.storageKey] else { throw AuditLogError(.nodeMismatch, "missing \(id)") }
            return hash
        }
    }

    func entries(in range: Range<UInt64>) -> [StoredEntry] {
        let upper = min(Int(clamping: range.upperBound), self.rows.count)
        let lower = min(Int(clamping: range.lowerBound), upper)
        return Array(self.rows[lower..<upper])
    }

    func nodes(after key: Int64, limit: Int) -> [StoredNode] {
        Array(
            self.interior.keys.filter { $0 > key }.sorted().prefix(limit).map {
                StoredNode(key: $0, hash: self.interior[$0]!)
            }
        )
    }

    func checkpoints() -> [StoredCheckpoint] {
        self.signed.keys.sorted().map { StoredCheckpoint(size: $0, note: self.signed[$0]!) }
    }

    func latestCheckpoint() -> StoredCheckpoint? {
        self.signed.keys.max().map { StoredCheckpoint(size: $0, note: self.signed[$0]!) }
    }
}

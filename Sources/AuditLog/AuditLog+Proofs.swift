/// An inclusion proof as served to an operator or a pump.
public struct InclusionProof: Hashable, Sendable {
    public let index: UInt64
    public let treeSize: UInt64
    public let leafHash: [UInt8]
    /// Sibling hashes, bottom-up (RFC 9162 order).
    public let hashes: [[UInt8]]
    public let rootHash: [UInt8]
}

/// A consistency proof between two tree sizes.
public struct ConsistencyProof: Hashable, Sendable {
    public let oldSize: UInt64
    public let newSize: UInt64
    public let oldRoot: [UInt8]
    public let newRoot: [UInt8]
    public let hashes: [[UInt8]]
}

extension AuditStore {
    /// The hashes of `ranges` (each a proof element or a root), from stored complete subtrees.
    /// O(log n) point lookups per proof: nothing is recomputed beyond folding a right edge.
    public func rangeHashes(_ ranges: [Range<UInt64>]) async throws -> [[UInt8]] {
        let parts = ranges.map { MerkleNodeID.decompose($0) }
        var fetched = try await self.hashes(of: parts.flatMap { $0 })[...]
        return parts.map { part in
            let hashes = Array(fetched.prefix(part.count))
            fetched = fetched.dropFirst(part.count)
            return MerkleNodeID.fold(hashes)
        }
    }

    /// The root hash of the first `size` entries.
    public func rootHash(size: UInt64) async throws -> [UInt8] {
        try await self.rangeHashes([0..<size])[0]
    }

    /// An inclusion proof for `index` in the tree of `treeSize` entries, built from stored hashes.
    public func inclusionProof(index: UInt64, treeSize: UInt64) async throws -> InclusionProof {
        let ranges = try MerkleProofPlan.inclusion(index: index, size: treeSize)
        var hashes = try await self.rangeHashes(ranges + [index..<index + 1, 0..<treeSize])
        let root = hashes.removeLast()
        let leaf = hashes.removeLast()
        return InclusionProof(index: index, treeSize: treeSize, leafHash: leaf, hashes: hashes, rootHash: root)
    }

    /// A consistency proof from `oldSize` to `newSize`, built from stored hashes.
    public func consistencyProof(from oldSize: UInt64, to newSize: UInt64) async throws -> ConsistencyProof {
        let ranges = try MerkleProofPlan.consistency(from: oldSize, to: newSize)
        var hashes = try await self.rangeHashes(ranges + [0..<oldSize, 0..<newSize])
        let newRoot = hashes.removeLast()
        let oldRoot = hashes.removeLast()
        return ConsistencyProof(oldSize: oldSize, newSize: newSize, oldRoot: oldRoot, newRoot: newRoot, hashes: hashes)
    }
}

extension AuditLog {
    /// An inclusion proof for `index` in the tree of `treeSize` entries (default: the current size).
    public func inclusionProof(index: UInt64, treeSize: UInt64? = nil) async throws -> InclusionProof {
        let size = treeSize ?? self.size
        guard size <= self.size else {
            throw AuditLogError(.invalidArgument, "tree size \(size): the log has \(self.size) entries")
        }
        return try await self.store.inclusionProof(index: index, treeSize: size)
    }

    /// A consistency proof from `oldSize` to `newSize` (default: the current size).
    public func consistencyProof(from oldSize: UInt64, to newSize: UInt64? = nil) async throws -> ConsistencyProof {
        let size = newSize ?? self.size
        guard size <= self.size else {
            throw AuditLogError(.invalidArgument, "tree size \(size): the log has \(self.size) entries")
        }
        return try await self.store.consistencyProof(from: oldSize, to: size)
    }

    /// The decoded entry at `index`, checked against its stored leaf hash.
    public func entry(at index: UInt64) async throws -> AuditEntry {
        guard let row = try await self.store.entries(in: index..<index + 1).first else {
            throw AuditLogError(.missingEntry, "entry \(index): not in the log (size \(self.size))")
        }
        return try Self.checkedEntry(row)
    }
}

/// Full verification of a stored log: plain functions that trust nothing they did not check.
///
/// One ordered pass over the raw rows recomputes every leaf hash from the entry bytes, rebuilds
/// the tree from scratch, compares every stored interior node with the recomputed one, and checks
/// every stored checkpoint: its signature by the trusted key, its origin, and its root against the
/// root recomputed at its size (which also proves successive checkpoints consistent: both are
/// prefixes of the same verified sequence; a consistency proof between each pair is checked as
/// well). The first failure is thrown, naming the entry index or
/// checkpoint size.
public enum LogVerifier {
    public struct Report: Hashable, Sendable {
        /// Entries verified (the stored size).
        public let size: UInt64
        public let rootHash: [UInt8]
        public let checkpointCount: Int
        /// The largest verified checkpoint, if any.
        public let latest: SignedCheckpoint?
    }

    /// Verifies everything in `store` against the trusted `verifier` key and `origin`.
    /// `progress(done, total)` is called after each page of entries.
    public static func verify(
        store: any AuditStore,
        verifier: NoteVerifier,
        origin: String,
        pageSize: Int = 16_384,
        progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) async throws -> Report {
        // Signatures first: a checkpoint is only used once its note verifies under the trusted key.
        var checkpoints: [SignedCheckpoint] = []
        for row in try await store.checkpoints() {
            let context = "checkpoint \(row.size)"
            let checkpoint = try verifier.verifyCheckpoint(note: row.note, context: context)
            guard checkpoint.size == row.size else {
                throw AuditLogError(.invalidCheckpoint, "\(context): the signed note says size \(checkpoint.size)")
            }
            guard checkpoint.origin == origin else {
                throw AuditLogError(
                    .invalidCheckpoint,
                    "\(context): origin \"\(checkpoint.origin)\", expected \"\(origin)\""
                )
            }
            checkpoints.append(SignedCheckpoint(checkpoint: checkpoint, note: row.note))
        }

        let total = try await store.size()
        var frontier = MerkleFrontier()
        var nodes = StoredNodeCursor(store: store)
        var next = 0
        var previousCheckpointSize: UInt64 = 0
        while next < checkpoints.count, checkpoints[next].checkpoint.size == 0 {
            try self.check(checkpoints[next], root: frontier.root, since: 0)
            next += 1
        }
        while frontier.size < total {
            let page = try await store.entries(in: frontier.size..<min(total, frontier.size + UInt64(pageSize)))
            for row in page {
                let index = frontier.size
                let context = "entry \(index)"
                guard row.index == index else {
                    throw AuditLogError(.missingEntry, "\(context): missing (the next stored entry is \(row.index))")
                }
                let entry = try AuditEntry(decoding: row.body, context: context)
                guard entry.index == index else {
                    throw AuditLogError(.malformedEntry, "\(context): the entry's bytes say index \(entry.index)")
                }
                let leaf = RFC9162.leafHash(row.body)
                guard leaf == row.leafHash else {
                    throw AuditLogError(
                        .leafHashMismatch,
                        "\(context): leaf hash mismatch (the entry or its hash was altered)"
                    )
                }
                var completed: [(MerkleNodeID, [UInt8])] = []
                frontier.append(leafHash: leaf) { completed.append(($0, $1)) }
                for (id, hash) in completed {
                    try await nodes.expect(
                        id,
                        hash,
                        context: "entries \(id.leaves.lowerBound)..<\(id.leaves.upperBound)"
                    )
                }
                while next < checkpoints.count, checkpoints[next].checkpoint.size == frontier.size {
                    try self.check(checkpoints[next], root: frontier.root, since: previousCheckpointSize)
                    previousCheckpointSize = frontier.size
                    next += 1
                }
            }
            guard page.count > 0 else {
                throw AuditLogError(.missingEntry, "entry \(frontier.size): missing (the log claims \(total) entries)")
            }
            progress(frontier.size, total)
        }
        if next < checkpoints.count {
            let size = checkpoints[next].checkpoint.size
            throw AuditLogError(
                .missingEntry,
                "checkpoint \(size): signed for \(size) entries but the log has \(total): entries \(total)..<\(size) were removed"
            )
        }
        try await nodes.expectEnd(context: "tree nodes")
        try await self.checkSuccessiveCheckpoints(checkpoints.map(\.checkpoint), store: store)
        return Report(
            size: total,
            rootHash: frontier.root,
            checkpointCount: checkpoints.count,
            latest: checkpoints.last
        )
    }

    /// Each signed checkpoint must extend the previous one: a consistency proof between their
    /// signed roots, built from the stored nodes (already verified above), must verify.
    private static func checkSuccessiveCheckpoints(_ checkpoints: [Checkpoint], store: any AuditStore) async throws {
        for (old, new) in zip(checkpoints, checkpoints.dropFirst()) where old.size > 0 {
            let proof = try await store.consistencyProof(from: old.size, to: new.size)
            do {
                try MerkleProof.verifyConsistency(
                    oldSize: old.size,
                    newSize: new.size,
                    oldRoot: old.rootHash,
                    newRoot: new.rootHash,
                    proof: proof.hashes
                )
            } catch let error as AuditLogError {
                throw AuditLogError(
                    .checkpointMismatch,
                    "checkpoint \(new.size): not consistent with checkpoint \(old.size): \(error.reason)"
                )
            }
        }
    }

    private static func check(_ signed: SignedCheckpoint, root: [UInt8], since previous: UInt64) throws {
        let size = signed.checkpoint.size
        guard signed.checkpoint.rootHash == root else {
            throw AuditLogError(
                .checkpointMismatch,
                "checkpoint \(size): signed root does not match the entries: an entry in \(previous)..<\(size) was altered"
            )
        }
    }
}

/// Reads stored interior nodes in key order, one page at a time, for the verifier's single pass.
private struct StoredNodeCursor {
    let store: any AuditStore
    var page: [StoredNode] = []
    var position = 0
    var lastKey: Int64 = -1

    init(store: any AuditStore) { self.store = store }

    mutating func next() async throws -> StoredNode? {
        if self.position == self.page.count {
            self.page = try await self.store.nodes(after: self.lastKey, limit: 16_384)
            self.position = 0
            guard !self.page.isEmpty else { return nil }
        }
        defer { self.position += 1 }
        self.lastKey = self.page[self.position].key
        return self.page[self.position]
    }

    mutating func expect(_ id: MerkleNodeID, _ hash: [UInt8], context: String) async throws {
        guard let stored = try await self.next() else {
            throw AuditLogError(.nodeMismatch, "\(context): stored \(id) is missing")
        }
        guard stored.key == id.storageKey else {
            throw AuditLogError(.nodeMismatch, "\(context): expected stored \(id), found node key \(stored.key)")
        }
        guard stored.hash == hash else {
            throw AuditLogError(.nodeMismatch, "\(context): stored \(id) hash does not match the entries")
        }
    }

    mutating func expectEnd(context: String) async throws {
        if let extra = try await self.next() {
            throw AuditLogError(.nodeMismatch, "\(context): unexpected stored node key \(extra.key) beyond the log")
        }
    }
}

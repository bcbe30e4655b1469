extension AuditLog {
    /// The size of the latest signed checkpoint this writer knows of: entries below it are covered.
    public var coveredSize: UInt64 { self.checkpointedSize }

    /// Whether entries were appended (by this writer) since the last stored checkpoint.
    public var isBehindCheckpoint: Bool { self.size > self.checkpointedSize }

    /// Signs and stores a checkpoint of the current tree if entries were appended since the last
    /// one, and returns it; nil when the latest checkpoint already covers the log.
    ///
    /// For the checkpoint timer: a quiet log then gets no new signature every tick, and a log that
    /// never grew gets none at all (a checkpoint of size 0 proves nothing).
    public func checkpointIfBehind() async throws -> SignedCheckpoint? {
        guard self.isBehindCheckpoint else { return nil }
        return try await self.checkpoint()
    }
}

extension AuditLog {
    /// Signs a checkpoint of the store's tip, whoever appended it: with several gateway nodes on
    /// one log, this node's own view may lag behind the others' appends. The tip is read under
    /// the store's write lock (`appendAtTip`, an empty batch carrying only the checkpoint), so the
    /// size and root signed are exactly the store's. nil: the tip is already checkpointed.
    /// The node that calls this holds the checkpoint role (one signer at a time, docs/cluster.md).
    public func checkpointAtTip() async throws -> SignedCheckpoint? {
        if let reason = self.stoppedReason { throw AuditLogError(.logUnavailable, reason) }
        let signer = self.signer
        let origin = self.configuration.origin
        let (frontier, signed): (MerkleFrontier, SignedCheckpoint?) = try await self.store.appendAtTip { tip in
            let frontier = try MerkleFrontier(size: tip.size, hashes: tip.rightEdge)
            guard tip.size > tip.checkpointedSize else {
                return (AuditBatch(firstIndex: tip.size, entries: [], nodes: [], checkpoint: nil), (frontier, nil))
            }
            let signed = try signer.sign(Checkpoint(origin: origin, size: tip.size, rootHash: frontier.root))
            return (
                AuditBatch(
                    firstIndex: tip.size,
                    entries: [],
                    nodes: [],
                    checkpoint: StoredCheckpoint(size: tip.size, note: signed.note)
                ),
                (frontier, signed)
            )
        }
        // Catch up with the others' appends (a commit in flight here sets its own, larger, view).
        if frontier.size > self.frontier.size { self.frontier = frontier }
        if let signed { self.checkpointedSize = max(self.checkpointedSize, signed.checkpoint.size) }
        return signed
    }
}

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

extension AuditLog {
    /// The number of entries in the store, including any another process appended since this
    /// writer last looked (`size` is what this writer knows of).
    public func storedSize() async throws -> UInt64 {
        try await self.store.size()
    }

    /// The decoded entries in `range`, in index order, each checked against its stored leaf hash.
    /// Indexes past the end of the store are simply absent.
    ///
    /// For stores that keep their own view of what the log recorded (accounts, change requests)
    /// and roll it forward from the log after a crash; read in chunks of a few thousand.
    public func entries(in range: Range<UInt64>) async throws -> [AuditEntry] {
        try await self.store.entries(in: range).map { row in try Self.checkedEntry(row) }
    }

    /// Decodes a stored row and checks it against its index and leaf hash.
    static func checkedEntry(_ row: StoredEntry) throws -> AuditEntry {
        let entry = try AuditEntry(decoding: row.body, context: "entry \(row.index)")
        guard entry.index == row.index, RFC9162.leafHash(row.body) == row.leafHash else {
            throw AuditLogError(.leafHashMismatch, "entry \(row.index): stored bytes do not match the stored leaf hash")
        }
        return entry
    }
}

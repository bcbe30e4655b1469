public import AuditLog

/// Reads a log's store in chunks and writes an export through a caller's sink, so memory stays at
/// one chunk of entries whatever the log's size. Read-only: it works beside a running gateway,
/// and stops at the size it found when it started (entries appended meanwhile, such as the
/// record of this export, are left for the next one).
public struct AuditExporter: Sendable {
    public let store: any AuditStore
    public let origin: String
    /// Entries read per store query.
    public let chunkSize: UInt64
    /// Bytes gathered before the sink is called: fewer, larger writes, bounded.
    public let flushBytes: Int

    public init(store: any AuditStore, origin: String, chunkSize: UInt64 = 1024, flushBytes: Int = 64 * 1024) {
        self.store = store
        self.origin = origin
        self.chunkSize = max(1, chunkSize)
        self.flushBytes = max(1, flushBytes)
    }

    /// What an export did.
    public struct Summary: Hashable, Sendable {
        /// Entries written.
        public let count: UInt64
        /// Entries looked at: the log's size when the export began.
        public let scanned: UInt64

        public init(count: UInt64, scanned: UInt64) {
            self.count = count
            self.scanned = scanned
        }
    }

    /// Writes the entries matching `filter` in `format`, calling `sink` with bounded chunks of
    /// bytes and `progress` (entries scanned, written) after each chunk of the log.
    public func export(
        format: ExportFormat,
        filter: ExportFilter,
        now: Int64,
        sink: ([UInt8]) async throws -> Void,
        progress: (UInt64, UInt64) -> Void = { _, _ in }
    ) async throws -> Summary {
        let size = try await self.store.size()
        var writer = ExportWriter(format: format, origin: self.origin, now: now)
        var buffer = writer.header()
        var start: UInt64 = 0
        while start < size {
            let rows = try await self.store.entries(in: start..<min(size, start + self.chunkSize))
            guard let last = rows.last else { break }
            for row in rows {
                let exported = try ExportedEntry(row: row)
                guard filter.matches(exported.entry.event) else { continue }
                buffer.append(contentsOf: writer.entry(exported))
                if buffer.count >= self.flushBytes {
                    try await sink(buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            start = last.index + 1
            progress(start, writer.written)
        }
        buffer.append(contentsOf: writer.footer())
        try await sink(buffer)
        return Summary(count: writer.written, scanned: start)
    }
}

public import AuditLog

/// One page of entries matching an ``AuditQuery``, read from the store in chunks so that memory
/// stays bounded whatever the log's size: at most `chunkSize` decoded entries plus the page.
///
/// Order and cursors: `.newestFirst(before:)` walks down from just below `before` (default: the
/// end of the log); `.oldestFirst(after:)` walks up from just above `after` (default: index 0).
/// `next` is the cursor for the following page, to pass as the same parameter, or nil at the
/// end of the log. One request scans at most `maximumScanned` entries: a rare filter over a
/// long log answers a short (even empty) page with a `next` to continue from, rather than
/// holding the store for minutes.
public enum AuditScan {
    public enum Order: Sendable, Hashable {
        case newestFirst(before: UInt64?)
        case oldestFirst(after: UInt64?)
    }

    public struct Page: Sendable {
        public let entries: [AuditEntry]
        public let next: UInt64?
    }

    public static let chunkSize: UInt64 = 512
    public static let maximumScanned: UInt64 = 100_000
    public static let maximumLimit = 1_000

    /// The patient a pump is bound to (nil: not paired), asked once per pump and page.
    public typealias PumpPatient = @Sendable (String) async throws -> String?

    public static func page(
        store: any AuditStore,
        size: UInt64,
        query: AuditQuery,
        order: Order,
        limit: Int,
        maximumScanned: UInt64 = AuditScan.maximumScanned,
        pumpPatient: PumpPatient
    ) async throws -> Page {
        let limit = min(max(1, limit), Self.maximumLimit)
        var patients: [String: String?] = [:]
        var found: [AuditEntry] = []
        var scanned: UInt64 = 0
        var cursor: UInt64
        switch order {
        case .newestFirst(let before): cursor = min(before ?? size, size)
        case .oldestFirst(let after): cursor = after.map { $0 == .max ? $0 : $0 + 1 } ?? 0
        }
        while scanned < maximumScanned {
            let range: Range<UInt64>
            switch order {
            case .newestFirst:
                guard cursor > 0 else { return Page(entries: found, next: nil) }
                range = cursor - min(cursor, Self.chunkSize)..<cursor
            case .oldestFirst:
                guard cursor < size else { return Page(entries: found, next: nil) }
                range = cursor..<min(size, cursor + Self.chunkSize)
            }
            var rows = try await store.entries(in: range)
            guard rows.count == range.count else {
                throw AuditLogError(
                    .missingEntry,
                    "entries \(range): \(range.count - rows.count) missing from the store"
                )
            }
            if case .newestFirst = order { rows.reverse() }
            for row in rows {
                let entry = try AuditEntry(decoding: row.body, context: "entry \(row.index)")
                var patient: String?
                if query.needsPumpPatient, let pump = entry.event.pumpSerial {
                    if let known = patients[pump] {
                        patient = known
                    } else {
                        patient = try await pumpPatient(pump)
                        patients[pump] = .some(patient)
                    }
                }
                guard query.matches(entry, pumpPatient: patient) else { continue }
                found.append(entry)
                if found.count == limit {
                    let more: Bool
                    switch order {
                    case .newestFirst: more = entry.index > 0
                    case .oldestFirst: more = entry.index + 1 < size
                    }
                    return Page(entries: found, next: more ? entry.index : nil)
                }
            }
            scanned += UInt64(range.count)
            switch order {
            case .newestFirst: cursor = range.lowerBound
            case .oldestFirst: cursor = range.upperBound
            }
        }
        // Out of budget: continue from where the scan stopped.
        switch order {
        case .newestFirst: return Page(entries: found, next: cursor > 0 ? cursor : nil)
        case .oldestFirst: return Page(entries: found, next: cursor < size ? cursor - 1 : nil)
        }
    }
}

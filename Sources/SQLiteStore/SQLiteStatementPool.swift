internal import CSQLite

/// A connection's compiled statements kept for reuse: when a `SQLiteStatement` ends, its
/// sqlite3_stmt is reset, its bindings cleared, and it waits here; the next `prepare` of the
/// same SQL text takes it instead of compiling the text again (parsing and planning a query
/// costs more than running most of ours). A statement in use is never handed out twice: a
/// nested `prepare` of the same text compiles a second one.
///
/// At most `capacity` statements wait, all texts together; past that an arbitrary one is
/// finalized. Once the connection closes, returned statements are finalized.
final class SQLiteStatementPool {
    static let capacity = 128

    private var idle: [String: [OpaquePointer]] = [:]
    private var count = 0
    private var closed = false

    /// An idle compiled statement for `sql`, if one waits.
    func take(_ sql: String) -> OpaquePointer? {
        guard var handles = idle[sql], let handle = handles.popLast() else { return nil }
        idle[sql] = handles.isEmpty ? nil : handles
        count -= 1
        return handle
    }

    /// Takes back a statement whose user is done with it.
    func give(_ handle: OpaquePointer, sql: String) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        guard !closed else {
            sqlite3_finalize(handle)
            return
        }
        if count >= Self.capacity, let (evicted, handles) = idle.first(where: { $0.key != sql }) ?? idle.first {
            for old in handles { sqlite3_finalize(old) }
            idle[evicted] = nil
            count -= handles.count
        }
        idle[sql, default: []].append(handle)
        count += 1
    }

    /// Finalizes every waiting statement; later returns are finalized at once.
    func close() {
        closed = true
        for handles in idle.values {
            for handle in handles { sqlite3_finalize(handle) }
        }
        idle = [:]
        count = 0
    }
}

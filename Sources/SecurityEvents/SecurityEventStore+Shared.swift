import AuditLog
import SQLiteStore

/// The step that depends on other nodes, on a database shared with the audit log (PostgreSQL,
/// several gateway nodes): an acknowledgement. One transaction takes the log's head lock, reads
/// the alert again (the check that counts), writes the row and the entry, commits.
///
/// - Two nodes acknowledging one alert at once: the second to take the lock finds it
///   acknowledged and is refused `alreadyAcknowledged`, writing nothing: one acknowledgement,
///   one `alert.acknowledged` entry.
/// - A crash or a lost connection before the commit leaves neither entry nor row.
/// - No notification: the other nodes read the tables when asked (`events`, `alerts`); nothing
///   there is kept in memory.
///
/// Events and raised alerts check nothing against other nodes: they take the log's ordinary
/// append (`step`), which waits out a database that is away, then write their row.
extension SecurityEventStore {
    /// One step in one transaction; returns its entry's index.
    @discardableResult
    func stepShared(
        _ what: String,
        in database: any SharedAuditDatabase,
        _ event: () throws -> AuditEvent,
        apply: (UInt64) throws -> Void
    ) throws(SecurityEventError) -> UInt64 {
        do {
            return try database.appendingStep(to: audit) { index in
                let entry = try event()
                try apply(index)
                return (entry, ())
            }.auditIndex
        } catch let error as SecurityEventError {
            throw error
        } catch let error as AuditLogError where error.code == .databaseUnavailable {
            throw SecurityEventError(
                .databaseUnavailable,
                "the database was lost during the \(what) step; it may or may not be recorded: \(error.reason)"
            )
        } catch {
            let reason = (error as? SQLiteError)?.reason ?? "\(error)"
            throw SecurityEventError(.storageFailure, "\(path): the \(what) step was not recorded: \(reason)")
        }
    }
}

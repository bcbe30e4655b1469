public import SQLiteStore
import Synchronization

/// A database that holds the audit log and a store's tables together: PostgreSQL, shared by
/// every gateway node (module StoresPostgres). A store's step then writes its audit entry and
/// its rows in one transaction, under the log's head lock, which every appender on every node
/// takes: the step is checked against the rows as they are once the lock is held, so two nodes
/// can never both take steps the other's makes illegal, and a crash leaves both or neither.
///
/// Its calls block the store's own thread, as SQLite's do.
public protocol SharedAuditDatabase: SQLDatabase {
    /// Inside a write transaction: waits for the audit log's head lock (held until the
    /// transaction ends) and reads the log's tip.
    func lockAuditTip() throws -> AuditTip
    /// Inside that transaction: writes the log's batch, built for that tip
    /// (`AuditLog.batch(appending:at:)`).
    func insertAudit(_ batch: AuditBatch) throws
    /// Inside that transaction: every node listening on `channel` is told `payload` once it
    /// commits (PostgreSQL's NOTIFY), e.g. that a pump's queue changed.
    func notify(_ channel: String, _ payload: String) throws
    /// The database's name for messages (a URL without its password).
    var name: String { get }
    /// Whether it answers, as the last call found.
    var health: DatabaseHealth { get }
}

/// Whether a shared database answers, as its connection last found: read without waiting for
/// the store, whose thread may be blocked on that very database, so that a request can be
/// refused at once (503 `database_unavailable`) instead of queueing behind a dead connection.
public final class DatabaseHealth: Sendable {
    private let problem = Mutex<String?>(nil)

    public init() {}

    /// Why the database cannot be reached now; nil while it answers.
    public var currentProblem: String? { self.problem.withLock { $0 } }

    public func failed(_ reason: String) { self.problem.withLock { $0 = reason } }
    public func answered() { self.problem.withLock { $0 = nil } }
}

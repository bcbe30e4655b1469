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
    /// Inside that transaction: every node listening on `channel` is told each of `payloads`
    /// once it commits (PostgreSQL's NOTIFY, all in one statement), e.g. which pumps' queues
    /// changed.
    func notify(_ channel: String, _ payloads: [String]) throws
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

extension SharedAuditDatabase {
    /// One step of a store whose rows live beside the log: in one transaction, takes the log's
    /// head lock, runs `body` with the index its entry will get, and appends the event `body`
    /// returns. `body` checks the rows as they are now (another node may have changed them since
    /// the caller last read) and writes its own; when it throws, nothing is written, in the log
    /// or the rows. Returns `body`'s value and the entry's index, durable when this returns.
    /// (`beforeCommit` runs last inside the transaction: a test's crash, which then commits
    /// nothing.)
    public func appendingStep<T>(
        to audit: AuditLog,
        beforeCommit: () throws -> Void = {},
        _ body: (_ auditIndex: UInt64) throws -> (AuditEvent, T)
    ) throws -> (value: T, auditIndex: UInt64) {
        try self.writeTransaction {
            let tip = try self.lockAuditTip()
            let (event, value) = try body(tip.size)
            let (batch, _) = try audit.batch(appending: [event], at: tip)
            try self.insertAudit(batch)
            try beforeCommit()
            return (value, tip.size)
        }
    }
}

/// Opens the shared database a state directory is bound to (`medtunnel db attach`), for the
/// stores that keep their tables there when it is. Installed once by the program (module
/// StoresPostgres does the connecting); without it, a bound state directory's stores are refused
/// rather than opened on their per-node SQLite files.
public enum SharedDatabases {
    /// Connects to `url` (which may carry a password: never put it in a message).
    public typealias Connect = @Sendable (_ url: String) async throws -> sending any SharedAuditDatabase

    private static let installed = Mutex<Connect?>(nil)

    public static var connect: Connect? {
        get { self.installed.withLock { $0 } }
        set { self.installed.withLock { $0 = newValue } }
    }

    /// What a store of `stateDirectory` opens: `.local` when it keeps its own files, else a
    /// connection to the database it is bound to. `what` names the store in a refusal.
    public static func open(stateDirectory: String, for what: String) async throws -> Opened {
        guard let url = try AuditStateDirectory(path: stateDirectory).binding() else { return .local }
        guard let connect = self.connect else {
            throw AuditLogError(
                .storageFailure,
                "\(stateDirectory) is bound to a database, and this program cannot open \(what) there"
            )
        }
        return .shared(try await connect(url))
    }

    public enum Opened {
        case local
        case shared(any SharedAuditDatabase)
    }
}

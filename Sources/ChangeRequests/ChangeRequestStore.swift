public import AuditLog
import Foundation
import SQLiteStore
import TherapyJSON
import TherapyModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The record of change requests, the per-pump command queue and each pump's prescription and
/// model: `STATE/changes.sqlite` (WAL, `synchronous=NORMAL`, mode 0600), a view of the audit log.
///
/// ## Durability: the log is the record, this store a view of it
/// Every step is in the audit log (`synchronous=FULL`, fsynced) before it is written here, with
/// everything needed to redo it, so this store commits without an fsync of its own
/// (`synchronous=NORMAL`: a commit reaches the WAL in the page cache; SQLite fsyncs the WAL at
/// checkpoints). A power loss can take the store's last commits, never the log's: SQLite keeps
/// the store consistent (a prefix of its commits), the recovery floor goes back with the commits
/// it was written in, and `recover()` rolls every later entry of the log forward, rebuilding
/// exactly what was lost (`PowerLossRecoveryTests` cuts the store's WAL at every frame and
/// compares with an intact restart). Two writes are not from the log, and a lost one is redone
/// on its own: `raiseSequence` (from the pump's next hello, before any delivery to it) and the
/// quarantine marks (by `recover()`).
///
/// ## Written in step with the audit log
/// Every step (a request recorded, approved, cancelled, sent, acknowledged, …) is, in this order:
/// 1. checked against the request's current state (an illegal step throws `illegalTransition`
///    and writes nothing), and the request marked busy in memory, so no second step on it can
///    start until this one ends;
/// 2. **appended to the audit log** (`AuditLog.append`, durable on return), with a payload that
///    holds everything needed to redo the step (`ChangeRequestEvent`);
/// 3. committed to this store with the audit index in the request's history (steps that
///    arrive together share one transaction: `ChangeRequestStore+Commit.swift`).
///
/// Nothing may be delivered before step 3 returns (the pipeline sends a command only after
/// `markSent` returns), so nothing is ever forwarded that the log lacks: step 2 made it durable.
///
/// ## Recovery rule (`recover()`, called once at gateway start, before serving)
/// - **Audit entry without its store row** (crash between 2 and 3): the step is redone from the
///   entry. The store keeps a *recovery floor*, an audit index below which every entry of ours
///   is known to be applied: each commit sets it to the smallest audit-log size read by a step
///   still in flight (or just past its own entry). At restart, every entry of ours from the floor
///   to the end of the log whose index is not yet in a history is applied. A request created this
///   way answers the client's retry with the same idempotency key.
/// - **Store row without its audit entry** (cannot happen in this order; it means the log was
///   replaced or rolled back): every unfinished request's latest step is looked up in the log; if
///   the entry is missing or names something else, the request is *quarantined* (never
///   delivered) and reported.
/// - **Sent, not acknowledged** at the crash: the session is gone, so each becomes `uncertain`
///   (audited), to be settled from the pump's next hello, never re-sent.
/// - A step that never reached the log (crash before 2) never happened: no one was told it did,
///   nothing was sent; the client's retry starts it afresh.
///
/// ## If the commit fails after the append
/// The store stops (`storeUnavailable` from then on): the log has a step this store lacks, and
/// only a restart's `recover()` puts them back in step.
public actor ChangeRequestStore {
    public static let schemaVersion = 1
    /// The channel a shared store notifies, with the pump's serial, when a pump's queue changed.
    public static let queueChannel = "medtunnel_queue"

    public nonisolated let path: String
    public nonisolated let lifetimes: CommandLifetimes
    let audit: AuditLog
    let executor: SQLiteExecutor
    let connection: any SQLDatabase
    /// Set when the store's tables live in the audit log's database (PostgreSQL): each step is
    /// then checked, appended and stored in one transaction (`ChangeRequestStore+Shared.swift`).
    let shared: (any SharedAuditDatabase)?
    /// For a shared store: whether its database answers, readable without waiting for the store.
    public nonisolated let databaseHealth: DatabaseHealth?

    // In-memory guards: one step at a time per request, per idempotency key, per pump send and
    // per pump therapy version. They live only as long as a step is in flight.
    var busyRequests: Set<ChangeRequestID> = []
    var busyKeys: Set<[String]> = []
    var busyPumps: Set<String> = []
    var busyTherapy: Set<String> = []
    var busyBindings: Set<String> = []
    /// Audit-log size read by each step in flight (see "Recovery rule").
    var inflightFloors: [UInt64: UInt64] = [:]
    var nextStepToken: UInt64 = 0
    var failure: String?
    /// Steps whose audit entries are durable, waiting for the store's group commit.
    var waitingSteps: [StepWaiter] = []
    var committing = false
    /// Each pump's current therapy as last read (nil: none set), so that the many reads of it
    /// (every API call on a pump, every acknowledgement) do not decode its JSON again.
    /// `applyTherapy` drops the pump's entry when it writes a version, a failed commit empties
    /// it, and so does a commit by any other connection to `changes.sqlite` (`PRAGMA
    /// data_version`; a running gateway has none).
    var therapyCache = SQLiteReadCache<String, PumpTherapy>(ownWrites: .caller, capacity: 100_000)
    /// Store transactions committed for steps; steps / commits is the group-commit batch size.
    public internal(set) var commitCount: UInt64 = 0
    /// Told of each committed change-request step (``observeSteps(_:)``).
    var stepObserver: (@Sendable (ChangeRequest, [ChangeTransition]) -> Void)?
    /// Tests only: stop dead at this point, as a crash would.
    var crashPoint: CrashPoint?

    enum CrashPoint: Sendable {
        /// After the audit entry is durable, before the store commits.
        case afterAuditAppend
    }

    func simulateCrash(at point: CrashPoint?) { crashPoint = point }

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// `DIR/changes.sqlite`.
    public static func databasePath(stateDirectory: String) -> String { "\(stateDirectory)/changes.sqlite" }

    /// Opens (creating on first use) the store of a state directory, writing through `audit`
    /// (the same state directory's log). Call `recover()` before serving.
    public static func open(
        stateDirectory: String,
        audit: AuditLog,
        lifetimes: CommandLifetimes = .default
    ) throws -> ChangeRequestStore {
        if mkdir(stateDirectory, 0o700) != 0 && errno != EEXIST {
            throw ChangeRequestError(
                .storageFailure,
                "create state directory \(stateDirectory): \(String(cString: strerror(errno)))"
            )
        }
        return try ChangeRequestStore(
            path: databasePath(stateDirectory: stateDirectory),
            audit: audit,
            lifetimes: lifetimes
        )
    }

    public init(path: String, audit: AuditLog, lifetimes: CommandLifetimes = .default) throws {
        self.path = path
        self.audit = audit
        self.lifetimes = lifetimes
        self.executor = SQLiteExecutor(name: "changes-sqlite")
        self.shared = nil
        self.databaseHealth = nil
        do {
            self.connection = try ChangeRequestSchema.open(path: path)
        } catch {
            self.executor.shutdown()
            throw error
        }
    }

    /// The store on a database shared with the audit log and with other gateway nodes
    /// (`SharedAuditDatabase`), whose migrations made its tables. `audit` must be the log in
    /// that same database. Call `recover()` before serving.
    public init(
        shared database: sending any SharedAuditDatabase,
        audit: AuditLog,
        lifetimes: CommandLifetimes = .default
    ) {
        self.path = database.name
        self.audit = audit
        self.lifetimes = lifetimes
        self.executor = SQLiteExecutor(name: "changes-postgres")
        self.databaseHealth = database.health
        self.shared = database
        self.connection = database
    }

    deinit { executor.shutdown() }

    func checkAvailable() throws {
        if let failure {
            throw ChangeRequestError(
                .storeUnavailable,
                "the change-request store stopped: \(failure); restart the gateway"
            )
        }
    }

    /// Runs a read, turning SQLite errors into `storageFailure`.
    func reading<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw ChangeRequestError(.storageFailure, "\(path): \(what): \(error.reason)")
        } catch let error as AuditLogError where error.code == .databaseUnavailable {
            throw ChangeRequestError(.databaseUnavailable, "\(what): \(error.reason)")
        }
    }

    // MARK: Reading

    /// The request with `id`, with its history; nil if there is none.
    public func request(_ id: ChangeRequestID) throws -> ChangeRequest? {
        try reading("read request \(id)") { try ChangeRequestSchema.loadRequest(connection, id) }
    }

    /// The requests for one pump, newest first.
    public func requests(forPump serial: String, limit: Int = 100) throws -> [ChangeRequest] {
        try reading("list requests of \(serial)") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where: "pump_serial = ? ORDER BY created_ms DESC, id LIMIT ?",
                bindings: [.text(serial), .integer(Int64(max(0, limit)))]
            )
        }
    }

    /// The request `requester` made with `idempotencyKey`, if any.
    public func request(requester: String, idempotencyKey: String) throws -> ChangeRequest? {
        try reading("read request by idempotency key") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where: "requester_id = ? AND idempotency_key = ?",
                bindings: [.text(requester), .text(idempotencyKey)]
            ).first
        }
    }

    /// Every request not yet in a final state, oldest first.
    public func unfinishedRequests() throws -> [ChangeRequest] {
        try reading("list unfinished requests") {
            try ChangeRequestSchema.loadRequests(
                connection,
                where: "state IN (\(ChangeRequestSchema.unfinishedStateList)) ORDER BY created_ms, id",
                bindings: []
            )
        }
    }

    func require(_ id: ChangeRequestID) throws -> ChangeRequest {
        guard let request = try request(id) else {
            throw ChangeRequestError(.notFound, "no change request \(id)")
        }
        return request
    }
}

extension ChangeRequestStore {
    /// Tells `observer` of every change-request step from now on, once it is committed: the
    /// request as stored and the transitions the step added (for the product metrics: changes by
    /// final state, approvals waiting, delivery latency). Returns how many requests wait for
    /// approval now, read in the same actor turn, so that the observer's counts start from it
    /// without a gap or a double count. The observer runs on the store's executor: keep it cheap.
    public func observeSteps(
        _ observer: @escaping @Sendable (ChangeRequest, [ChangeTransition]) -> Void
    ) throws -> Int {
        let waiting = try reading("count requests pending approval") {
            let statement = try connection.prepare("SELECT count(*) FROM request WHERE state = ?")
            try statement.bind(ChangeRequestState.pendingApproval.name, at: 1)
            _ = try statement.step()
            return Int(statement.int64(0))
        }
        stepObserver = observer
        return waiting
    }
}

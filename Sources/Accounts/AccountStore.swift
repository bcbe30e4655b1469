public import AuditLog
import Foundation
import SQLiteStore
public import SafetyPolicy
public import TherapyModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The accounts of the operator API, in `STATE/accounts.sqlite` (WAL, `synchronous=FULL`, mode
/// 0600) beside the audit log.
///
/// Schema (version 1):
///
///     account(id TEXT PRIMARY KEY, role TEXT, attributes TEXT,     -- attributes: sorted KEY=VALUE lines
///             created_ms INTEGER, created_audit INTEGER,           -- created_audit NULL while pending
///             disabled_ms INTEGER, disabled_audit INTEGER,         -- disabled_ms set: disabled
///             pending TEXT, pending_floor INTEGER)                 -- 'create' | 'disable' | NULL
///
/// **Every change is in the audit log before it is reported done**, in three durable steps:
/// 1. the row is written marked `pending` with the audit log's size at that moment (the floor);
/// 2. the `account.created` / `account.disabled` entry is appended (durable on return);
/// 3. the row is marked done with that entry's index.
///
/// A pending creation is invisible (`account(id:)` returns nil, no token can be issued for it);
/// a pending disable already counts (disabling is the safe direction). After a crash,
/// `recover(audit:now:)` settles every pending row by looking for its entry in the log from its
/// floor on: found, the row is marked done with that index; not found, a creation is dropped
/// (nothing was promised, the admin saw no "done") and a disable is logged now (it stood).
///
/// Writers (this process's and other processes': the CLI, a starting gateway) are serialised by
/// an exclusive lock on `accounts.sqlite.lock`. Reads never wait for it.
///
/// `account(id:)` (every authenticated request) answers from a cache that is emptied whenever
/// the database has changed since it was filled: by another connection or process (`PRAGMA
/// data_version`, e.g. `medtunnel user disable` run beside a gateway) or by this store's own
/// connection (its change count). A disable committed anywhere is therefore seen by the next
/// read that starts after the commit, as without the cache.
///
/// **Shared by several gateway nodes** (`init(shared:)`, the audit log's PostgreSQL database):
/// each change is one transaction that takes the log's head lock, checks the row as it is now,
/// writes it done and appends its entry, so nothing is ever pending and two nodes adding the
/// same id give one account. There is no cache: every read asks the database, so a disable
/// committed on any node is seen by the next read on every node.
public actor AccountStore {
    public static let schemaVersion = 1

    public nonisolated let path: String
    /// Whether the accounts live in the database shared by every gateway node.
    public nonisolated let isShared: Bool
    private let executor: SQLiteExecutor
    private let connection: any SQLDatabase
    /// The local database (the cache watches it); nil when shared.
    private let local: SQLiteConnection?
    /// Set when the accounts live in the audit log's database, shared by every node.
    private let shared: (any SharedAuditDatabase)?
    /// For a shared store: whether its database answers, readable without waiting for the store
    /// (a request is refused at once while it does not).
    public nonisolated let databaseHealth: DatabaseHealth?
    /// Other processes' writers (the CLI beside a gateway); none needed when shared, where the
    /// log's head lock serializes every writer.
    private let lock: WriterLock?
    private var writerBusy = false
    /// Accounts by id as last read; see the type's comment. (Only verified tokens' subjects are
    /// looked up, so the ids are real ones; past the capacity the cache starts over.)
    private var cache = SQLiteReadCache<String, Account>(ownWrites: .emptyTheCache, capacity: 10_000)
    private var writerQueue: [CheckedContinuation<Void, Never>] = []
    /// Tests only: stop dead at this point of a write, as a crash would.
    var crashPoint: CrashPoint?

    enum CrashPoint: Sendable {
        /// The row is written pending; the audit entry is not.
        case afterPendingWrite
        /// The audit entry is durable; the row is still pending.
        case afterAuditAppend
    }

    func simulateCrash(at point: CrashPoint?) { crashPoint = point }

    private func crashIfAsked(_ point: CrashPoint) throws {
        if crashPoint == point { throw AccountError(.storageFailure, "simulated crash (\(point))") }
    }

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// `DIR/accounts.sqlite`.
    public static func databasePath(stateDirectory: String) -> String { "\(stateDirectory)/accounts.sqlite" }

    /// The accounts of a state directory: in the database it is bound to (`medtunnel db
    /// attach`), shared by every node on it; otherwise its `accounts.sqlite`.
    public static func forStateDirectory(_ stateDirectory: String) async throws -> AccountStore {
        let opened: SharedDatabases.Opened
        do {
            opened = try await SharedDatabases.open(stateDirectory: stateDirectory, for: "accounts")
        } catch {
            throw AccountError(.storageFailure, "\(stateDirectory): open the accounts: \(error)")
        }
        switch opened {
        case .local: return try self.open(stateDirectory: stateDirectory)
        case .shared(let database): return AccountStore(shared: database)
        }
    }

    /// Opens (creating on first use, with the directory) the accounts of a state directory.
    public static func open(stateDirectory: String) throws -> AccountStore {
        if mkdir(stateDirectory, 0o700) != 0 && errno != EEXIST {
            throw AccountError(
                .storageFailure,
                "create state directory \(stateDirectory): \(String(cString: strerror(errno)))"
            )
        }
        return try AccountStore(path: databasePath(stateDirectory: stateDirectory))
    }

    /// Opens the database at `path`, creating it (mode 0600) and its schema if absent.
    public init(path: String) throws {
        self.path = path
        self.lock = WriterLock(path: path + ".lock")
        self.executor = SQLiteExecutor(name: "accounts-sqlite")
        let connection: SQLiteConnection
        do {
            connection = try Self.openConnection(path: path)
        } catch {
            self.executor.shutdown()
            throw error
        }
        self.connection = connection
        self.local = connection
        self.databaseHealth = nil
        self.shared = nil
        self.isShared = false
    }

    /// The accounts in a database shared with the audit log and the other gateway nodes, whose
    /// migrations made the table. Every write call's `audit` must be the log in that database.
    public init(shared database: sending any SharedAuditDatabase) {
        self.path = database.name
        self.lock = nil
        self.executor = SQLiteExecutor(name: "accounts-postgres")
        self.local = nil
        self.databaseHealth = database.health
        self.shared = database
        self.isShared = true
        self.connection = database
    }

    deinit { executor.shutdown() }

    private static func openConnection(path: String) throws -> SQLiteConnection {
        do {
            return try SQLiteConnection.openPrivate(
                path: path,
                schemaVersion: schemaVersion,
                schema: """
                    CREATE TABLE IF NOT EXISTS account(
                        id TEXT PRIMARY KEY, role TEXT NOT NULL, attributes TEXT NOT NULL,
                        created_ms INTEGER NOT NULL, created_audit INTEGER,
                        disabled_ms INTEGER, disabled_audit INTEGER,
                        pending TEXT CHECK (pending IN ('create', 'disable')), pending_floor INTEGER);
                    """
            )
        } catch let error as SQLiteError {
            throw AccountError(.storageFailure, "\(path): \(error.reason)")
        }
    }

    // MARK: Reading

    /// The account with `id`, disabled or not; nil when there is none (or its creation is not yet
    /// in the audit log).
    public func account(id: String) throws -> Account? {
        try storage("read account \(id)") {
            let read = { try self.rows(where: "id = ? AND (pending IS NULL OR pending <> 'create')", id).first }
            guard let local else { return try read() }
            return try cache.value(of: id, on: local, read: read)
        }
    }

    /// Every account, by id (pending creations left out).
    public func accounts() throws -> [Account] {
        try storage("list accounts") {
            try rows(where: "pending IS NULL OR pending <> 'create'", nil)
        }
    }

    // MARK: Writing

    /// Creates an account; returns once the creation is in the audit log and the row is done.
    /// Throws `invalidUserID`, `duplicateUser` (also for a disabled or pending id), `auditFailed`.
    public func add(
        id: String,
        role: ActorRole,
        attributes: AccountAttributes,
        by actor: AuditActor,
        now: Timestamp,
        audit: AuditLog
    ) async throws -> Account {
        try Account.validateID(id)
        // The attributes were checked for some role; check them for this one.
        let attributes = try AccountAttributes(attributes.all, for: role)
        let record = AccountAuditRecord(
            op: .create,
            id: id,
            role: role.rawValue,
            attributes: attributes.all.map(\.description),
            at: now.millisecondsSinceEpoch
        )
        if let shared {
            try sharedStep("add account \(id)", shared, audit) { index in
                try refuseExisting(id)
                try insert(id, role, attributes, now, done: index, pendingFloor: nil)
                return try record.event(by: actor)
            }
            return try readBack(id, "created")
        }
        return try await asWriter {
            try storage("read account \(id)") { try refuseExisting(id) }
            let floor = try await auditSize(audit)
            try storage("insert account \(id)") {
                try connection.writeTransaction {
                    try insert(id, role, attributes, now, done: nil, pendingFloor: floor)
                }
            }
            try crashIfAsked(.afterPendingWrite)
            let index: UInt64
            do {
                index = try await append(record, by: actor, to: audit)
            } catch {
                // Not logged, so not done: drop the pending row (recovery would, too).
                try? storage("drop pending account \(id)") { try deletePendingCreation(id) }
                throw error
            }
            try crashIfAsked(.afterAuditAppend)
            try finish(id: id, op: .create, auditIndex: index)
            return try readBack(id, "created")
        }
    }

    /// Disables an account: from the moment this starts, tokens for it no longer authenticate.
    /// Returns once the disable is in the audit log. Throws `unknownUser`, `alreadyDisabled`,
    /// `auditFailed` (the disable stands and is logged by the next `recover`).
    public func disable(id: String, by actor: AuditActor, now: Timestamp, audit: AuditLog) async throws -> Account {
        let record = AccountAuditRecord(op: .disable, id: id, at: now.millisecondsSinceEpoch)
        if let shared {
            try sharedStep("disable account \(id)", shared, audit) { index in
                try requireAccount(id, disabled: false)
                try markDisabled(id, now, done: index, pendingFloor: nil)
                return try record.event(by: actor)
            }
            return try readBack(id, "disabled")
        }
        return try await asWriter {
            try requireAccount(id, disabled: false)
            let floor = try await auditSize(audit)
            try storage("disable account \(id)") {
                try connection.writeTransaction { try markDisabled(id, now, done: nil, pendingFloor: floor) }
            }
            try crashIfAsked(.afterPendingWrite)
            let index = try await append(record, by: actor, to: audit)
            try crashIfAsked(.afterAuditAppend)
            try finish(id: id, op: .disable, auditIndex: index)
            return try readBack(id, "disabled")
        }
    }

    /// Enables a disabled account again. Enabling is the unsafe direction, so it is logged
    /// first and done second: the `account.enabled` entry is appended, then the row cleared. A
    /// crash in between leaves the account disabled (the safe side) with an entry saying it was
    /// enabled; running `user enable` again finishes it. Throws `unknownUser`, `notDisabled`,
    /// `auditFailed` (nothing changed).
    public func enable(id: String, by actor: AuditActor, now: Timestamp, audit: AuditLog) async throws -> Account {
        let record = AccountAuditRecord(op: .enable, id: id, at: now.millisecondsSinceEpoch)
        if let shared {
            try sharedStep("enable account \(id)", shared, audit) { index in
                try requireAccount(id, disabled: true)
                try markEnabled(id, auditIndex: index)
                return try record.event(by: actor)
            }
            return try readBack(id, "enabled")
        }
        return try await asWriter {
            try requireAccount(id, disabled: true)
            let index = try await append(record, by: actor, to: audit)
            try crashIfAsked(.afterAuditAppend)
            try storage("enable account \(id)") {
                try connection.writeTransaction { try markEnabled(id, auditIndex: index) }
            }
            return try readBack(id, "enabled")
        }
    }

    // MARK: Steps of both engines

    private func refuseExisting(_ id: String) throws {
        if try rows(where: "id = ?", id).first != nil {
            throw AccountError(
                .duplicateUser,
                "user '\(id)' exists already (ids are never reused, disabled accounts included); choose another id"
            )
        }
    }

    /// The account, checked to be (or not be) disabled: `unknownUser`, `alreadyDisabled`,
    /// `notDisabled`.
    private func requireAccount(_ id: String, disabled: Bool) throws {
        guard
            let account = try storage(
                "read account \(id)",
                { try rows(where: "id = ? AND (pending IS NULL OR pending <> 'create')", id).first }
            )
        else {
            throw AccountError(.unknownUser, "user '\(id)': no such account; see `medtunnel user list`")
        }
        if account.isDisabled && !disabled {
            throw AccountError(.alreadyDisabled, "user '\(id)': already disabled")
        }
        if !account.isDisabled && disabled {
            throw AccountError(.notDisabled, "user '\(id)': not disabled")
        }
    }

    /// The row of a new account: done (with its entry's index) or pending from `pendingFloor`.
    private func insert(
        _ id: String,
        _ role: ActorRole,
        _ attributes: AccountAttributes,
        _ now: Timestamp,
        done auditIndex: UInt64?,
        pendingFloor: UInt64?
    ) throws {
        let insert = try connection.prepare(
            """
            INSERT INTO account(id, role, attributes, created_ms, created_audit, pending, pending_floor)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """
        )
        try insert.bind(id, at: 1)
        try insert.bind(role.rawValue, at: 2)
        try insert.bind(attributes.all.map(\.description).joined(separator: "\n"), at: 3)
        try insert.bind(now.millisecondsSinceEpoch, at: 4)
        try insert.bind(auditIndex.map(Int64.init), at: 5)
        try insert.bind(pendingFloor == nil ? nil : "create", at: 6)
        try insert.bind(pendingFloor.map(Int64.init), at: 7)
        try insert.run()
    }

    /// Disabled from `now`: done (with its entry's index) or pending from `pendingFloor`.
    private func markDisabled(_ id: String, _ now: Timestamp, done auditIndex: UInt64?, pendingFloor: UInt64?) throws {
        let update = try connection.prepare(
            "UPDATE account SET disabled_ms = ?, disabled_audit = ?, pending = ?, pending_floor = ? WHERE id = ?"
        )
        try update.bind(now.millisecondsSinceEpoch, at: 1)
        try update.bind(auditIndex.map(Int64.init), at: 2)
        try update.bind(pendingFloor == nil ? nil : "disable", at: 3)
        try update.bind(pendingFloor.map(Int64.init), at: 4)
        try update.bind(id, at: 5)
        try update.run()
    }

    private func markEnabled(_ id: String, auditIndex: UInt64) throws {
        let update = try connection.prepare(
            """
            UPDATE account SET disabled_ms = NULL, disabled_audit = NULL, pending = NULL,
                pending_floor = NULL, created_audit = coalesce(created_audit, ?) WHERE id = ?
            """
        )
        try update.bind(Int64(auditIndex), at: 1)
        try update.bind(id, at: 2)
        try update.run()
    }

    private func readBack(_ id: String, _ what: String) throws -> Account {
        guard let account = try storage("read account \(id)", { try rows(where: "id = ?", id).first }) else {
            throw AccountError(.storageFailure, "user '\(id)' vanished after it was \(what)")
        }
        return account
    }

    /// A change on the shared database: `body` checks and writes the row under the log's head
    /// lock and gives the entry (see `SharedAuditDatabase.appendingStep`).
    private func sharedStep(
        _ what: String,
        _ database: any SharedAuditDatabase,
        _ audit: AuditLog,
        _ body: (_ auditIndex: UInt64) throws -> AuditEvent
    ) throws {
        _ = try storage(what) {
            try database.appendingStep(to: audit, beforeCommit: { try crashIfAsked(.afterAuditAppend) }) { index in
                (try body(index), ())
            }
        }
    }

    // MARK: Helpers shared with recovery

    func asWriter<T>(_ body: () async throws -> T) async throws -> T {
        guard let lock else { return try await body() }
        // One writer of this process at a time (the actor is re-entered across awaits), then the
        // file lock for other processes.
        if writerBusy {
            await withCheckedContinuation { writerQueue.append($0) }
        } else {
            writerBusy = true
        }
        defer {
            if writerQueue.isEmpty {
                writerBusy = false
            } else {
                writerQueue.removeFirst().resume()
            }
        }
        let fd = try lock.acquire()
        defer { lock.release(fd) }
        return try await body()
    }

    func auditSize(_ audit: AuditLog) async throws -> UInt64 {
        do {
            return try await audit.storedSize()
        } catch {
            throw AccountError(.auditFailed, "read the audit log's size: \(error)")
        }
    }

    func append(_ record: AccountAuditRecord, by actor: AuditActor, to audit: AuditLog) async throws -> UInt64 {
        do {
            return try await audit.append(try record.event(by: actor)).index
        } catch {
            throw AccountError(
                .auditFailed,
                "user '\(record.id)': the audit log refused the \(record.kind) entry: \(error)"
            )
        }
    }

    func finish(id: String, op: AccountAuditRecord.Operation, auditIndex: UInt64) throws {
        try storage("finish \(op) of account \(id)") {
            try connection.writeTransaction {
                let column = op == .create ? "created_audit" : "disabled_audit"
                let update = try connection.prepare(
                    "UPDATE account SET \(column) = ?, pending = NULL, pending_floor = NULL WHERE id = ? AND pending = ?"
                )
                try update.bind(Int64(auditIndex), at: 1)
                try update.bind(id, at: 2)
                try update.bind(op.rawValue, at: 3)
                try update.run()
            }
        }
    }

    func deletePendingCreation(_ id: String) throws {
        try connection.writeTransaction {
            let delete = try connection.prepare("DELETE FROM account WHERE id = ? AND pending = 'create'")
            try delete.bind(id, at: 1)
            try delete.run()
        }
    }

    /// Pending rows: (id, operation, floor).
    func pendingRows() throws -> [(id: String, op: AccountAuditRecord.Operation, floor: UInt64)] {
        try storage("read pending accounts") {
            let select = try connection.prepare(
                "SELECT id, pending, pending_floor FROM account WHERE pending IS NOT NULL ORDER BY id"
            )
            var result: [(id: String, op: AccountAuditRecord.Operation, floor: UInt64)] = []
            while try select.step() {
                let op = AccountAuditRecord.Operation(rawValue: select.text(1)) ?? .create
                result.append((select.text(0), op, UInt64(max(0, select.int64(2)))))
            }
            return result
        }
    }

    func storage<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw AccountError(.storageFailure, "\(path): \(what): \(error.reason)")
        } catch let error as AuditLogError {
            // The shared database (accounts and log together): nothing was written.
            throw AccountError(.storageFailure, "\(what): \(error.reason)")
        }
    }

    private func rows(where condition: String, _ id: String?) throws -> [Account] {
        let select = try connection.prepare(
            """
            SELECT id, role, attributes, created_ms, created_audit, disabled_ms
            FROM account WHERE \(condition) ORDER BY id
            """
        )
        if let id { try select.bind(id, at: 1) }
        var accounts: [Account] = []
        while try select.step() {
            accounts.append(try decodeRow(select))
        }
        return accounts
    }

    private func decodeRow(_ row: any SQLStatement) throws -> Account {
        let id = row.text(0)
        do throws(AccountError) {
            let role = try Account.role(named: row.text(1))
            let text = row.text(2)
            let attributes =
                try text.isEmpty
                ? []
                : text.split(separator: "\n")
                    // Stored before pairing replaced it: dropped, the account still loads.
                    .filter { !$0.hasPrefix(AccountAttribute.retiredPumpKey + "=") }
                    .map { line throws(AccountError) in try AccountAttribute(parsing: String(line)) }
            return Account(
                id: id,
                role: role,
                attributes: try AccountAttributes(attributes, for: role),
                createdAt: Timestamp(millisecondsSinceEpoch: row.int64(3)),
                createdAuditIndex: row.isNull(4) ? nil : UInt64(row.int64(4)),
                disabledAt: row.isNull(5) ? nil : Timestamp(millisecondsSinceEpoch: row.int64(5))
            )
        } catch {
            throw AccountError(.storageFailure, "\(path): account '\(id)' is stored malformed: \(error.reason)")
        }
    }
}

public import AuditLog
import Foundation
import SQLiteStore
public import TherapyModel

#if canImport(Glibc)
import Glibc
#endif

/// Bearer tokens revoked before they expire, in `STATE/tokens.sqlite` (WAL, `synchronous=FULL`,
/// mode 0600):
///
///     revoked_token(jti TEXT PRIMARY KEY, user_id TEXT, revoked_ms, by_id, by_role, audit_index)
///     revoked_user(user_id TEXT PRIMARY KEY, before_ms, revoked_ms, by_id, by_role, audit_index)
///
/// A `revoked_token` row refuses one token; a `revoked_user` row refuses every token of the user
/// issued at or before `before_ms` (a token's `iat` is in whole seconds, so a token issued in the
/// same second as the revocation is refused too: get a new one a second later).
///
/// Revoking is the safe direction, so it takes effect first and is logged second: the row is
/// written (`audit_index` NULL), then the `auth.token_revoked` entry is appended, then the row
/// gets that entry's index. A crash in between leaves a revocation that stands but is not yet
/// logged; ``recover(audit:now:)`` logs it late (the gateway runs it when it starts, the CLI
/// before writing).
///
/// ``state(tokenID:userID:)`` (every authenticated request) answers from a cache emptied whenever
/// the database changed, from this connection or any other process (`PRAGMA data_version`), so
/// `medtunnel token revoke` beside a running gateway refuses the token from the next request.
///
/// **Shared by several gateway nodes** (`init(shared:)`, the audit log's PostgreSQL database):
/// a revocation's row and its entry are written in one transaction under the log's head lock,
/// and there is no cache, so a token revoked on one node is refused by every node from the next
/// request on.
public actor TokenRevocationStore {
    public static let schemaVersion = 1

    public nonisolated let path: String
    private let executor: SQLiteExecutor
    private let connection: any SQLDatabase
    /// The local database (the cache watches it); nil when shared.
    private let local: SQLiteConnection?
    /// Set when the revocations live in the audit log's database, shared by every node.
    private let shared: (any SharedAuditDatabase)?
    /// For a shared store: whether its database answers, readable without waiting for the store
    /// (a request is refused at once while it does not).
    public nonisolated let databaseHealth: DatabaseHealth?
    private var cache = SQLiteReadCache<CacheKey, Revocation>(ownWrites: .emptyTheCache, capacity: 10_000)

    struct CacheKey: Hashable {
        let tokenID: String
        let userID: String
    }

    /// What the store says of one token: revoked by its own id, and the user's cutoff.
    public struct Revocation: Sendable, Hashable {
        public var tokenRevoked: Bool
        /// Tokens of the user issued at or before this time (ms) are refused; nil: none.
        public var userCutoffMilliseconds: Int64?

        public func refuses(issuedAtMilliseconds: Int64) -> Bool {
            tokenRevoked || userCutoffMilliseconds.map { issuedAtMilliseconds <= $0 } ?? false
        }
    }

    /// What one revocation did.
    public struct Outcome: Sendable, Hashable {
        public enum Target: Sendable, Hashable {
            case token(id: String)
            case user(id: String)
        }
        public let target: Target
        public let auditIndex: UInt64
    }

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// `DIR/tokens.sqlite`.
    public static func databasePath(stateDirectory: String) -> String { "\(stateDirectory)/tokens.sqlite" }

    /// The revocations of a state directory: in the database it is bound to (`medtunnel db
    /// attach`), shared by every node on it; otherwise its `tokens.sqlite`.
    public static func forStateDirectory(_ stateDirectory: String) async throws -> TokenRevocationStore {
        let opened: SharedDatabases.Opened
        do {
            opened = try await SharedDatabases.open(stateDirectory: stateDirectory, for: "token revocations")
        } catch {
            throw TokenError(.storage, "\(stateDirectory): open the token revocations: \(error)")
        }
        switch opened {
        case .local: return try self.open(stateDirectory: stateDirectory)
        case .shared(let database): return TokenRevocationStore(shared: database)
        }
    }

    public static func open(stateDirectory: String) throws -> TokenRevocationStore {
        if mkdir(stateDirectory, 0o700) != 0 && errno != EEXIST {
            throw TokenError(
                .storage,
                "create state directory \(stateDirectory): \(String(cString: strerror(errno)))"
            )
        }
        return try TokenRevocationStore(path: databasePath(stateDirectory: stateDirectory))
    }

    public init(path: String) throws {
        self.path = path
        self.executor = SQLiteExecutor(name: "tokens-sqlite")
        self.shared = nil
        let connection: SQLiteConnection
        do {
            connection = try SQLiteConnection.openPrivate(
                path: path,
                schemaVersion: Self.schemaVersion,
                schema: """
                    CREATE TABLE IF NOT EXISTS revoked_token(
                        jti TEXT PRIMARY KEY, user_id TEXT NOT NULL, revoked_ms INTEGER NOT NULL,
                        by_id TEXT NOT NULL, by_role TEXT NOT NULL, audit_index INTEGER);
                    CREATE TABLE IF NOT EXISTS revoked_user(
                        user_id TEXT PRIMARY KEY, before_ms INTEGER NOT NULL, revoked_ms INTEGER NOT NULL,
                        by_id TEXT NOT NULL, by_role TEXT NOT NULL, audit_index INTEGER);
                    """
            )
        } catch let error as SQLiteError {
            self.executor.shutdown()
            throw TokenError(.storage, "\(path): \(error.reason)")
        }
        self.connection = connection
        self.local = connection
        self.databaseHealth = nil
    }

    /// The revocations in a database shared with the audit log and the other gateway nodes,
    /// whose migrations made the tables. Every write call's `audit` must be the log there.
    public init(shared database: sending any SharedAuditDatabase) {
        self.path = database.name
        self.executor = SQLiteExecutor(name: "tokens-postgres")
        self.local = nil
        self.databaseHealth = database.health
        self.shared = database
        self.connection = database
    }

    deinit { executor.shutdown() }

    // MARK: Reading

    public func state(tokenID: String, userID: String) throws -> Revocation {
        try storage("read revocations") {
            let read = {
                let token = try self.connection.prepare("SELECT 1 FROM revoked_token WHERE jti = ?")
                try token.bind(tokenID, at: 1)
                let user = try self.connection.prepare("SELECT before_ms FROM revoked_user WHERE user_id = ?")
                try user.bind(userID, at: 1)
                return Revocation(
                    tokenRevoked: try token.step(),
                    userCutoffMilliseconds: try user.step() ? user.int64(0) : nil
                )
            }
            guard let local else { return try read() }
            return try cache.value(of: CacheKey(tokenID: tokenID, userID: userID), on: local, read: read)
                ?? Revocation(tokenRevoked: false, userCutoffMilliseconds: nil)
        }
    }

    // MARK: Writing

    /// Revokes one token by its id (`jti`); `userID` is recorded when known ("" otherwise).
    /// Revoking a token twice is not an error (the second is logged too).
    public func revoke(
        tokenID: String,
        userID: String,
        by actor: AuditActor,
        now: Timestamp,
        audit: AuditLog
    ) async throws -> Outcome {
        try Self.checkID(tokenID, "token id")
        let record = TokenRevocationRecord(tokenID: tokenID, userID: userID, at: now.millisecondsSinceEpoch)
        let write = { (index: UInt64?) in
            let insert = try self.connection.prepare(
                """
                INSERT INTO revoked_token(jti, user_id, revoked_ms, by_id, by_role, audit_index) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(jti) DO UPDATE SET revoked_ms = excluded.revoked_ms, audit_index = excluded.audit_index
                """
            )
            try insert.bind(tokenID, at: 1)
            try insert.bind(userID, at: 2)
            try insert.bind(now.millisecondsSinceEpoch, at: 3)
            try insert.bind(actor.id, at: 4)
            try insert.bind(actor.role, at: 5)
            try insert.bind(index.map(Int64.init), at: 6)
            try insert.run()
        }
        let index = try await self.revoking("revoke token", record, by: actor, audit: audit, write: write)
        try markLogged("revoked_token", "jti", tokenID, index)
        return Outcome(target: .token(id: tokenID), auditIndex: index)
    }

    /// Revokes every token of `userID` issued up to `now`.
    public func revokeAll(
        ofUser userID: String,
        by actor: AuditActor,
        now: Timestamp,
        audit: AuditLog
    ) async throws -> Outcome {
        try Self.checkID(userID, "user id")
        let record = TokenRevocationRecord(
            userID: userID,
            before: now.millisecondsSinceEpoch,
            at: now.millisecondsSinceEpoch
        )
        let write = { (index: UInt64?) in
            // The cutoff never moves back: a revocation stamped earlier (another node's clock)
            // keeps the later one.
            let insert = try self.connection.prepare(
                """
                INSERT INTO revoked_user(user_id, before_ms, revoked_ms, by_id, by_role, audit_index)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(user_id) DO UPDATE SET
                    before_ms = CASE WHEN excluded.before_ms > revoked_user.before_ms
                        THEN excluded.before_ms ELSE revoked_user.before_ms END,
                    revoked_ms = excluded.revoked_ms, by_id = excluded.by_id, by_role = excluded.by_role,
                    audit_index = excluded.audit_index
                """
            )
            try insert.bind(userID, at: 1)
            try insert.bind(now.millisecondsSinceEpoch, at: 2)
            try insert.bind(now.millisecondsSinceEpoch, at: 3)
            try insert.bind(actor.id, at: 4)
            try insert.bind(actor.role, at: 5)
            try insert.bind(index.map(Int64.init), at: 6)
            try insert.run()
        }
        let index = try await self.revoking(
            "revoke the tokens of \(userID)",
            record,
            by: actor,
            audit: audit,
            write: write
        )
        try markLogged("revoked_user", "user_id", userID, index)
        return Outcome(target: .user(id: userID), auditIndex: index)
    }

    /// Logs every revocation a crash left unlogged (it stood from the start); returns how many.
    @discardableResult
    public func recover(audit: AuditLog, now: Timestamp) async throws -> Int {
        // A shared store writes each revocation with its entry: none is ever left unlogged.
        guard shared == nil else { return 0 }
        var pending: [(table: String, key: String, record: TokenRevocationRecord, actor: AuditActor)] = []
        try storage("read unlogged revocations") {
            let tokens = try connection.prepare(
                "SELECT jti, user_id, revoked_ms, by_id, by_role FROM revoked_token WHERE audit_index IS NULL"
            )
            while try tokens.step() {
                let record = TokenRevocationRecord(tokenID: tokens.text(0), userID: tokens.text(1), at: tokens.int64(2))
                pending.append(
                    ("revoked_token", tokens.text(0), record, try Self.actor(tokens.text(3), tokens.text(4)))
                )
            }
            let users = try connection.prepare(
                "SELECT user_id, before_ms, revoked_ms, by_id, by_role FROM revoked_user WHERE audit_index IS NULL"
            )
            while try users.step() {
                let record = TokenRevocationRecord(userID: users.text(0), before: users.int64(1), at: users.int64(2))
                pending.append(("revoked_user", users.text(0), record, try Self.actor(users.text(3), users.text(4))))
            }
        }
        for item in pending {
            let index = try await append(item.record, by: item.actor, to: audit)
            try markLogged(item.table, item.table == "revoked_token" ? "jti" : "user_id", item.key, index)
        }
        return pending.count
    }

    // MARK: Helpers

    /// Writes a revocation with `write` and logs it; returns its entry's index. Locally the row
    /// is written first (unlogged, `audit_index` NULL: it stands at once) and logged second. On
    /// the shared database both go in one transaction under the log's head lock.
    private func revoking(
        _ what: String,
        _ record: TokenRevocationRecord,
        by actor: AuditActor,
        audit: AuditLog,
        write: (UInt64?) throws -> Void
    ) async throws -> UInt64 {
        if let shared {
            return try storage(what) {
                try shared.appendingStep(to: audit) { index in
                    try write(index)
                    return (try record.event(by: actor), ())
                }.auditIndex
            }
        }
        try storage(what) { try connection.writeTransaction { try write(nil) } }
        return try await append(record, by: actor, to: audit)
    }

    private func append(
        _ record: TokenRevocationRecord,
        by actor: AuditActor,
        to audit: AuditLog
    ) async throws
        -> UInt64
    {
        do {
            return try await audit.append(try record.event(by: actor)).index
        } catch {
            throw TokenError(
                .auditFailed,
                "the revocation stands, but the audit log refused its entry (it is logged when the gateway next starts): \(error)"
            )
        }
    }

    private func markLogged(_ table: String, _ column: String, _ key: String, _ index: UInt64) throws {
        // A shared store wrote the index with the row.
        guard shared == nil else { return }
        try storage("record the revocation's audit index") {
            try connection.writeTransaction {
                let update = try connection.prepare("UPDATE \(table) SET audit_index = ? WHERE \(column) = ?")
                try update.bind(Int64(index), at: 1)
                try update.bind(key, at: 2)
                try update.run()
            }
        }
    }

    private static func actor(_ id: String, _ role: String) throws -> AuditActor {
        do {
            return try AuditActor(id: id, role: role)
        } catch {
            return try AuditActor(id: "gateway-recovery", role: "system")
        }
    }

    static func checkID(_ value: String, _ what: String) throws {
        guard (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else {
            throw TokenError(.invalidRevocation, "\(what) '\(value.prefix(40))' must be 1 to 128 printable characters")
        }
    }

    private func storage<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw TokenError(.storage, "\(path): \(what): \(error.reason)")
        } catch let error as AuditLogError {
            // The shared database (revocations and log together): nothing was written.
            throw TokenError(.storage, "\(what): \(error.reason)")
        }
    }
}

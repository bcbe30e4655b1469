public import AuditLog
import Crypto
import Foundation
public import Passkeys
import SQLiteStore

#if canImport(Glibc)
import Glibc
#endif

/// Registered passkeys and the invitations to register one, in `STATE/passkeys.sqlite` (WAL,
/// `synchronous=FULL`, mode 0600: every write is on disk when the call returns):
///
///     credential(credential_id BLOB PRIMARY KEY, user_id, public_key BLOB, sign_count,
///                created_ms, last_used_ms)
///     user_handle(user_id TEXT PRIMARY KEY, handle BLOB UNIQUE)
///     invitation(token_hash BLOB PRIMARY KEY, user_id, created_ms, expires_ms, used_ms)
///
/// An invitation is stored as the SHA-256 of its token only: the database never holds a token
/// that could register a passkey. The user handle is random, one per user, so that an
/// authenticator never holds the user id itself.
///
/// With several gateway nodes (`init(shared:)`), the same tables live in the audit log's
/// PostgreSQL database: a passkey registered through one node signs in on any, an invitation
/// is used once across all of them, and a sign-in counter never goes back whichever node saw it.
public actor PasskeyStore {
    public static let schemaVersion = 1
    public static let fileName = "passkeys.sqlite"
    public static let invitationLifetimeMilliseconds: Int64 = 24 * 3600 * 1000
    public static let userHandleSize = 32

    public nonisolated let path: String
    private let executor: SQLiteExecutor
    private let connection: any SQLDatabase

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public static func databasePath(stateDirectory: String) -> String { "\(stateDirectory)/\(fileName)" }

    /// The passkeys of a state directory: in the database it is bound to (`medtunnel db
    /// attach`), shared by every node on it; otherwise its `passkeys.sqlite`.
    public static func forStateDirectory(_ stateDirectory: String) async throws(PasskeyError) -> PasskeyStore {
        let opened: SharedDatabases.Opened
        do {
            opened = try await SharedDatabases.open(stateDirectory: stateDirectory, for: "passkeys")
        } catch {
            throw PasskeyError(.storageFailure, "\(stateDirectory): open the passkeys: \(error)")
        }
        switch opened {
        case .local: return try self.open(stateDirectory: stateDirectory)
        case .shared(let database): return PasskeyStore(shared: database)
        }
    }

    public static func open(stateDirectory: String) throws(PasskeyError) -> PasskeyStore {
        if mkdir(stateDirectory, 0o700) != 0 && errno != EEXIST {
            throw PasskeyError(
                .storageFailure,
                "create state directory \(stateDirectory): \(String(cString: strerror(errno)))"
            )
        }
        return try PasskeyStore(path: databasePath(stateDirectory: stateDirectory))
    }

    public init(path: String) throws(PasskeyError) {
        self.path = path
        self.executor = SQLiteExecutor(name: "passkeys-sqlite")
        do {
            self.connection = try SQLiteConnection.openPrivate(
                path: path,
                schemaVersion: Self.schemaVersion,
                schema: """
                    CREATE TABLE IF NOT EXISTS credential(
                        credential_id BLOB PRIMARY KEY, user_id TEXT NOT NULL, public_key BLOB NOT NULL,
                        sign_count INTEGER NOT NULL, created_ms INTEGER NOT NULL, last_used_ms INTEGER);
                    CREATE INDEX IF NOT EXISTS credential_by_user ON credential(user_id);
                    CREATE TABLE IF NOT EXISTS user_handle(user_id TEXT PRIMARY KEY, handle BLOB NOT NULL UNIQUE);
                    CREATE TABLE IF NOT EXISTS invitation(
                        token_hash BLOB PRIMARY KEY, user_id TEXT NOT NULL, created_ms INTEGER NOT NULL,
                        expires_ms INTEGER NOT NULL, used_ms INTEGER);
                    """
            )
        } catch {
            self.executor.shutdown()
            throw PasskeyError(.storageFailure, "\(path): \((error as? SQLiteError)?.reason ?? "\(error)")")
        }
    }

    /// The passkeys in a database shared with the audit log and the other gateway nodes, whose
    /// migrations made the tables.
    public init(shared database: sending any SharedAuditDatabase) {
        self.path = database.name
        self.executor = SQLiteExecutor(name: "passkeys-postgres")
        self.connection = database
    }

    deinit { executor.shutdown() }

    // MARK: Invitations

    /// An invitation as stored (never its token).
    public struct Invitation: Sendable, Hashable {
        public let userID: String
        public let createdAtMilliseconds: Int64
        public let expiresAtMilliseconds: Int64
        public let usedAtMilliseconds: Int64?
        /// The first 8 bytes of the token's hash, hex: names the invitation in the audit log.
        public let reference: String
    }

    /// A new one-time token: 32 random bytes, base64url.
    public static func newToken(using generator: inout some RandomNumberGenerator) -> String {
        Base64URLText.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    public static func tokenHash(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Array(token.utf8))) }

    static func reference(_ hash: [UInt8]) -> String { hash.prefix(8).map { String(format: "%02x", $0) }.joined() }

    /// The reference an invitation token will be known by, before it is stored.
    public static func reference(ofToken token: String) -> String { reference(tokenHash(token)) }

    /// Stores an invitation for `userID`, valid 24 hours from `nowMilliseconds`.
    @discardableResult
    public func addInvitation(token: String, userID: String, nowMilliseconds: Int64) throws(PasskeyError) -> Invitation
    {
        let hash = Self.tokenHash(token)
        let expires = nowMilliseconds + Self.invitationLifetimeMilliseconds
        try storage("store the invitation") {
            try connection.writeTransaction {
                let insert = try connection.prepare(
                    "INSERT INTO invitation(token_hash, user_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)"
                )
                try insert.bind(hash, at: 1)
                try insert.bind(userID, at: 2)
                try insert.bind(nowMilliseconds, at: 3)
                try insert.bind(expires, at: 4)
                try insert.run()
            }
        }
        return Invitation(
            userID: userID,
            createdAtMilliseconds: nowMilliseconds,
            expiresAtMilliseconds: expires,
            usedAtMilliseconds: nil,
            reference: Self.reference(hash)
        )
    }

    /// The invitation `token` names, if it can still be used: `invitation_unknown`,
    /// `invitation_used` or `invitation_expired` otherwise.
    public func usableInvitation(token: String, nowMilliseconds: Int64) throws(PasskeyError) -> Invitation {
        let hash = Self.tokenHash(token)
        let found: Invitation? = try storage("read the invitation") {
            let select = try connection.prepare(
                "SELECT user_id, created_ms, expires_ms, used_ms FROM invitation WHERE token_hash = ?"
            )
            try select.bind(hash, at: 1)
            guard try select.step() else { return nil }
            return Invitation(
                userID: select.text(0),
                createdAtMilliseconds: select.int64(1),
                expiresAtMilliseconds: select.int64(2),
                usedAtMilliseconds: select.isNull(3) ? nil : select.int64(3),
                reference: Self.reference(hash)
            )
        }
        guard let invitation = found else {
            throw PasskeyError(.invitationUnknown, "this invitation link is not known; ask an admin for a new one")
        }
        guard invitation.usedAtMilliseconds == nil else {
            throw PasskeyError(.invitationUsed, "this invitation link was used already; ask an admin for a new one")
        }
        guard nowMilliseconds < invitation.expiresAtMilliseconds else {
            throw PasskeyError(
                .invitationExpired,
                "this invitation link expired (24 hours); ask an admin for a new one"
            )
        }
        return invitation
    }

    // MARK: Credentials

    /// The user's handle, made from `candidate` (random bytes) the first time.
    public func userHandle(of userID: String, candidate: [UInt8]) throws(PasskeyError) -> [UInt8] {
        try storage("read or make the user handle") {
            try connection.writeTransaction {
                // Another node may make the user's handle at the same moment: the first one
                // stored is the handle, and both read it back.
                let insert = try connection.prepare(
                    "INSERT INTO user_handle(user_id, handle) VALUES (?, ?) ON CONFLICT(user_id) DO NOTHING"
                )
                try insert.bind(userID, at: 1)
                try insert.bind(candidate, at: 2)
                try insert.run()
                let select = try connection.prepare("SELECT handle FROM user_handle WHERE user_id = ?")
                try select.bind(userID, at: 1)
                guard try select.step() else { throw SQLiteError(resultCode: 1, reason: "the user handle vanished") }
                return select.blob(0)
            }
        }
    }

    /// Saves a verified credential and uses up the invitation, in one transaction: both or
    /// neither. `credential_exists` if the id is registered; the invitation's errors if it
    /// cannot be used any more (used by a concurrent registration, expired meanwhile).
    public func register(
        _ credential: RegistrationCeremony.NewCredential,
        userID: String,
        invitationToken: String,
        nowMilliseconds: Int64
    ) throws(PasskeyError) {
        _ = try usableInvitation(token: invitationToken, nowMilliseconds: nowMilliseconds)
        if try self.credential(id: credential.credentialID) != nil {
            throw PasskeyError(.credentialExists, "this passkey is registered already; sign in with it")
        }
        try storage("save the passkey") {
            try connection.writeTransaction {
                let use = try connection.prepare(
                    """
                    UPDATE invitation SET used_ms = ? WHERE token_hash = ? AND used_ms IS NULL AND user_id = ?
                    RETURNING user_id
                    """
                )
                try use.bind(nowMilliseconds, at: 1)
                try use.bind(Self.tokenHash(invitationToken), at: 2)
                try use.bind(userID, at: 3)
                guard try use.step() else { throw SQLiteError(resultCode: 19, reason: "invitation used") }
                let insert = try connection.prepare(
                    """
                    INSERT INTO credential(credential_id, user_id, public_key, sign_count, created_ms)
                    VALUES (?, ?, ?, ?, ?)
                    """
                )
                try insert.bind(credential.credentialID, at: 1)
                try insert.bind(userID, at: 2)
                try insert.bind(credential.publicKey, at: 3)
                try insert.bind(Int64(credential.signCount), at: 4)
                try insert.bind(nowMilliseconds, at: 5)
                try insert.run()
            }
        }
    }

    public func credential(id: [UInt8]) throws(PasskeyError) -> PasskeyCredential? {
        try rows("c.credential_id = ?") { try $0.bind(id, at: 1) }.first
    }

    public func credentials(ofUser userID: String) throws(PasskeyError) -> [PasskeyCredential] {
        try rows("c.user_id = ?") { try $0.bind(userID, at: 1) }
    }

    /// Stores the counter of a verified assertion, unless another assertion of the same
    /// credential got there first with the same or a later counter (`counter_regressed`).
    public func recordAssertion(
        credentialID: [UInt8],
        signCount: UInt32,
        nowMilliseconds: Int64
    ) throws(PasskeyError) {
        // An authenticator without a counter (always 0) matches only 0; one with a counter only
        // a stored value below the new one, so a replayed or cloned assertion is refused.
        let counterCheck = signCount == 0 ? "sign_count = 0" : "sign_count < ?"
        let updated: Bool = try storage("record the sign-in") {
            try connection.writeTransaction {
                let update = try connection.prepare(
                    """
                    UPDATE credential SET sign_count = ?, last_used_ms = ?
                    WHERE credential_id = ? AND \(counterCheck) RETURNING sign_count
                    """
                )
                try update.bind(Int64(signCount), at: 1)
                try update.bind(nowMilliseconds, at: 2)
                try update.bind(credentialID, at: 3)
                if signCount != 0 { try update.bind(Int64(signCount), at: 4) }
                return try update.step()
            }
        }
        guard updated else {
            throw PasskeyError(.counterRegressed, "another sign-in with this passkey used the same counter")
        }
    }

    // MARK: Helpers

    private func rows(
        _ condition: String,
        _ bind: (any SQLStatement) throws -> Void
    ) throws(PasskeyError) -> [PasskeyCredential] {
        try storage("read passkeys") {
            let select = try connection.prepare(
                """
                SELECT c.credential_id, c.user_id, h.handle, c.public_key, c.sign_count, c.created_ms, c.last_used_ms
                FROM credential c JOIN user_handle h ON h.user_id = c.user_id WHERE \(condition)
                ORDER BY c.created_ms
                """
            )
            try bind(select)
            var found: [PasskeyCredential] = []
            while try select.step() {
                found.append(
                    PasskeyCredential(
                        credentialID: select.blob(0),
                        userID: select.text(1),
                        userHandle: select.blob(2),
                        publicKey: select.blob(3),
                        signCount: UInt32(clamping: select.int64(4)),
                        createdAtMilliseconds: select.int64(5),
                        lastUsedAtMilliseconds: select.isNull(6) ? nil : select.int64(6)
                    )
                )
            }
            return found
        }
    }

    private func storage<T>(_ what: String, _ body: () throws -> T) throws(PasskeyError) -> T {
        do {
            return try body()
        } catch let error as SQLiteError where error.reason == "invitation used" {
            throw PasskeyError(.invitationUsed, "this invitation link was used already; ask an admin for a new one")
        } catch let error as SQLiteError {
            throw PasskeyError(.storageFailure, "\(path): \(what): \(error.reason)")
        } catch {
            throw PasskeyError(.storageFailure, "\(path): \(what): \(error)")
        }
    }
}

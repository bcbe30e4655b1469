public import AccessTokens
public import Accounts
public import AuditLog
import Crypto
import Foundation
import Passkeys
public import SafetyPolicy
public import TherapyModel

/// A signed-in console user, as a route sees it.
public struct ConsoleSession: Sendable, Hashable {
    /// The first 8 bytes of SHA-256 of the session id, hex: names the session in the audit log
    /// and binds step-up challenges, without being the cookie.
    public let reference: String
    public let userID: String
    public internal(set) var role: ActorRole
    /// Sent by the page with every POST (header `X-CSRF-Token` or form field `csrf`).
    public let csrfToken: String
    public let createdAtMilliseconds: Int64
    public internal(set) var lastSeenAtMilliseconds: Int64
    /// The last passkey assertion (the sign-in itself, then each step-up).
    public internal(set) var lastStepUpAtMilliseconds: Int64
    /// `Bearer <token>` for the pipeline's `authorization:` parameters: a short-lived token of
    /// this user minted by the gateway. Never send it to the browser.
    public internal(set) var authorization: String

    /// Seconds since the last passkey assertion.
    public func stepUpAgeSeconds(nowMilliseconds: Int64) -> Int64 {
        max(0, nowMilliseconds - lastStepUpAtMilliseconds) / 1000
    }
}

/// The console's sessions: id (32 random bytes, base64url, the `mt_session` cookie) → user,
/// CSRF token, times, and the internal bearer token. In memory: a gateway restart signs
/// everyone out, which is the safe direction.
///
/// - idle 15 minutes, or 12 hours after sign-in: the session ends (`session_expired`);
/// - the account disabled: the session ends at its next use (`account_disabled`);
/// - the internal token lives 15 minutes and is replaced when under 5 are left; signing out
///   (or any end) revokes every token the session minted that has not expired.
public actor ConsoleSessions {
    public static let idleTimeoutMilliseconds: Int64 = 15 * 60 * 1000
    public static let maximumAgeMilliseconds: Int64 = 12 * 3600 * 1000
    public static let stepUpWindowMilliseconds: Int64 = 5 * 60 * 1000
    public static let tokenRefreshMarginMilliseconds: Int64 = 5 * 60 * 1000
    public static let capacity = 10_000

    struct Entry {
        var session: ConsoleSession
        /// Tokens minted for the session and when they expire, revoked when it ends.
        var tokens: [(id: String, expiresAt: Int64)]
        var tokenExpiresAt: Int64
    }

    private var entries: [String: Entry] = [:]
    private var generator = SystemRandomNumberGenerator()
    private let issuer: TokenIssuer
    private let accounts: AccountStore
    private let revocations: TokenRevocationStore?
    private let audit: AuditLog

    public init(issuer: TokenIssuer, accounts: AccountStore, revocations: TokenRevocationStore?, audit: AuditLog) {
        self.issuer = issuer
        self.accounts = accounts
        self.revocations = revocations
        self.audit = audit
    }

    public var count: Int { entries.count }

    static func reference(ofSessionID id: String) -> String {
        SHA256.hash(data: Array(id.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    private func randomText() -> String {
        Base64URLText.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// A new session for `account` after a verified sign-in; returns the session id (the
    /// cookie's value, a secret) and the session.
    public func open(account: Account, nowMilliseconds: Int64) async throws -> (id: String, session: ConsoleSession) {
        if entries.count >= Self.capacity { await sweep(nowMilliseconds: nowMilliseconds) }
        let token = try await issuer.issue(
            to: account.id,
            lifetime: .default,
            now: Timestamp(millisecondsSinceEpoch: nowMilliseconds)
        )
        let id = randomText()
        let session = ConsoleSession(
            reference: Self.reference(ofSessionID: id),
            userID: account.id,
            role: account.role,
            csrfToken: randomText(),
            createdAtMilliseconds: nowMilliseconds,
            lastSeenAtMilliseconds: nowMilliseconds,
            lastStepUpAtMilliseconds: nowMilliseconds,
            authorization: "Bearer \(token.token)"
        )
        entries[id] = Entry(
            session: session,
            tokens: [(token.tokenID, token.expiresAt.millisecondsSinceEpoch)],
            tokenExpiresAt: token.expiresAt.millisecondsSinceEpoch
        )
        return (id, session)
    }

    /// The live session `id` names, seen now: its idle clock restarts, its account is read
    /// again, its internal token replaced when near expiry. Ends it when it has expired or the
    /// account is disabled.
    public func resume(id: String?, nowMilliseconds: Int64) async throws(ConsoleAuthError) -> ConsoleSession {
        guard let id, let entry = entries[id] else { throw ConsoleAuthError.sessionMissing() }
        let session = entry.session
        if nowMilliseconds - session.lastSeenAtMilliseconds >= Self.idleTimeoutMilliseconds {
            await end(id, nowMilliseconds: nowMilliseconds)
            throw ConsoleAuthError.sessionExpired("the session was idle for 15 minutes")
        }
        if nowMilliseconds - session.createdAtMilliseconds >= Self.maximumAgeMilliseconds {
            await end(id, nowMilliseconds: nowMilliseconds)
            throw ConsoleAuthError.sessionExpired("the session is 12 hours old")
        }
        let account: Account?
        do {
            account = try await accounts.account(id: session.userID)
        } catch {
            throw ConsoleAuthError(.serviceUnavailable, "unavailable", "the account store could not be read; retry")
        }
        guard let account, !account.isDisabled else {
            await end(id, nowMilliseconds: nowMilliseconds)
            try? await record(.consoleSignOut, session, nowMilliseconds, ["cause": "account_disabled"])
            throw ConsoleAuthError.accountDisabled()
        }
        var minted: IssuedToken?
        if entry.tokenExpiresAt - nowMilliseconds < Self.tokenRefreshMarginMilliseconds {
            do {
                minted = try await issuer.issue(
                    to: account.id,
                    lifetime: .default,
                    now: Timestamp(millisecondsSinceEpoch: nowMilliseconds)
                )
            } catch {
                throw ConsoleAuthError(.serviceUnavailable, "unavailable", "no token could be issued; retry")
            }
        }
        // The entry may have changed while this awaited (a sign-out, a step-up, another
        // request's refresh): the current one is updated, and only if it is still live.
        guard var current = entries[id] else { throw ConsoleAuthError.sessionExpired("the session ended") }
        if let minted {
            current.tokens.append((minted.tokenID, minted.expiresAt.millisecondsSinceEpoch))
            current.tokenExpiresAt = minted.expiresAt.millisecondsSinceEpoch
        }
        current.session.role = account.role
        current.session.lastSeenAtMilliseconds = nowMilliseconds
        if let minted { current.session.authorization = "Bearer \(minted.token)" }
        current.tokens.removeAll { $0.expiresAt <= nowMilliseconds }
        entries[id] = current
        return current.session
    }

    /// Records a verified step-up assertion.
    public func markStepUp(id: String, nowMilliseconds: Int64) -> ConsoleSession? {
        guard var entry = entries[id] else { return nil }
        entry.session.lastSeenAtMilliseconds = nowMilliseconds
        entry.session.lastStepUpAtMilliseconds = nowMilliseconds
        entries[id] = entry
        return entry.session
    }

    /// Signs out: revokes the session's tokens and forgets it. Returns the session it was.
    @discardableResult
    public func close(id: String, nowMilliseconds: Int64) async -> ConsoleSession? {
        await end(id, nowMilliseconds: nowMilliseconds)
    }

    /// `step_up_required` unless the session's last passkey assertion is under 5 minutes old.
    /// Console actions that change therapy or lockouts call this; reads do not.
    public static func requireStepUp(
        _ session: ConsoleSession,
        nowMilliseconds: Int64,
        windowMilliseconds: Int64 = stepUpWindowMilliseconds
    ) throws(ConsoleAuthError) {
        guard nowMilliseconds - session.lastStepUpAtMilliseconds < windowMilliseconds else {
            throw ConsoleAuthError.stepUpRequired()
        }
    }

    @discardableResult
    private func end(_ id: String, nowMilliseconds: Int64) async -> ConsoleSession? {
        guard let entry = entries.removeValue(forKey: id) else { return nil }
        if let revocations, let actor = try? AuditActor(id: entry.session.userID, role: entry.session.role.rawValue) {
            for token in entry.tokens where token.expiresAt > nowMilliseconds {
                // A failure here leaves a token that expires within 15 minutes and is never
                // sent anywhere but the gateway's own pipeline.
                _ = try? await revocations.revoke(
                    tokenID: token.id,
                    userID: entry.session.userID,
                    by: actor,
                    now: Timestamp(millisecondsSinceEpoch: nowMilliseconds),
                    audit: audit
                )
            }
        }
        return entry.session
    }

    /// Ends every idle or too old session (called when the table is full).
    private func sweep(nowMilliseconds: Int64) async {
        let stale = entries.filter {
            nowMilliseconds - $0.value.session.lastSeenAtMilliseconds >= Self.idleTimeoutMilliseconds
                || nowMilliseconds - $0.value.session.createdAtMilliseconds >= Self.maximumAgeMilliseconds
        }
        for id in stale.keys { await end(id, nowMilliseconds: nowMilliseconds) }
        // Still full: the least recently seen goes, so a flood of sign-ins cannot grow memory.
        while entries.count >= Self.capacity,
            let oldest = entries.min(by: {
                $0.value.session.lastSeenAtMilliseconds < $1.value.session.lastSeenAtMilliseconds
            })
        {
            await end(oldest.key, nowMilliseconds: nowMilliseconds)
        }
    }

    func record(
        _ kind: AuditKind,
        _ session: ConsoleSession,
        _ nowMilliseconds: Int64,
        _ extra: [String: String]
    ) async throws {
        try await ConsoleAudit.record(
            kind,
            audit: audit,
            actor: (session.userID, session.role.rawValue),
            nowMilliseconds: nowMilliseconds,
            fields: ["user": session.userID, "session": session.reference].merging(extra) { _, new in new }
        )
    }
}

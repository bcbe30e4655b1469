import AccessTokens
import AuditLog
import Foundation
import MedTunnelTestSupport
import SafetyPolicy
import Testing
import TherapyModel

@testable import Accounts

/// Who may act, as every gateway node sees it: on SQLite another process beside the gateway
/// (`medtunnel user disable`, `token revoke`), on PostgreSQL another node on the same database.
/// Either way the next request anywhere sees the change.
@Suite("accounts and revocations seen by every node")
struct SharedIdentityTests {
    static let now = AccountsFixture.now

    struct Node {
        let fixture: AccountsFixture
        let revocations: TokenRevocationStore
        let issuer: TokenIssuer
        let authenticator: Authenticator

        static func open(_ fixture: AccountsFixture) async throws -> Node {
            let key = try TokenSigningKey.load(stateDirectory: fixture.directory)
            let revocations = try await TokenRevocationStore.forStateDirectory(fixture.directory)
            return Node(
                fixture: fixture,
                revocations: revocations,
                issuer: try await TokenIssuer(key: key, accounts: fixture.store),
                authenticator: try await Authenticator(key: key, accounts: fixture.store, revocations: revocations)
            )
        }

        func refuses(_ token: String, _ code: AuthenticationError.Code) async -> Bool {
            do {
                _ = try await authenticator.authenticate(authorization: "Bearer \(token)", now: SharedIdentityTests.now)
                return false
            } catch {
                return error.code == code
            }
        }
    }

    /// Two nodes (or processes) on one state directory's stores; alice exists.
    func twoNodes(_ backend: StoreBackend) async throws -> (Node, Node) {
        let fixture = try await AccountsFixture.make(backend)
        try await fixture.add("alice", .patient, ["patient=patient-001"])
        return (try await Node.open(fixture), try await Node.open(try await fixture.reopened()))
    }

    @Test("a token revoked through the other node is refused at the next request", arguments: StoreBackend.allCases)
    func revokedElsewhere(_ backend: StoreBackend) async throws {
        let (a, b) = try await twoNodes(backend)
        let token = try await a.issuer.issue(to: "alice", lifetime: .default, now: Self.now)
        _ = try await a.authenticator.authenticate(authorization: "Bearer \(token.token)", now: Self.now)
        let outcome = try await b.revocations.revoke(
            tokenID: token.tokenID,
            userID: "alice",
            by: AccountsFixture.admin,
            now: Self.now,
            audit: b.fixture.audit
        )
        #expect(await a.refuses(token.token, .revoked))
        let entry = try #require(try await a.fixture.entries().last)
        #expect(entry.index == outcome.auditIndex && entry.event.kind == .tokenRevoked)
        // Logged with its entry: nothing for recovery to log again.
        #expect(try await a.revocations.recover(audit: a.fixture.audit, now: Self.now) == 0)
    }

    @Test("a user's cutoff never moves back, whichever node's clock stamped it", arguments: StoreBackend.allCases)
    func cutoffNeverMovesBack(_ backend: StoreBackend) async throws {
        let (a, b) = try await twoNodes(backend)
        let later = Timestamp(millisecondsSinceEpoch: Self.now.millisecondsSinceEpoch + 60_000)
        _ = try await a.revocations.revokeAll(
            ofUser: "alice",
            by: AccountsFixture.admin,
            now: later,
            audit: a.fixture.audit
        )
        _ = try await b.revocations.revokeAll(
            ofUser: "alice",
            by: AccountsFixture.admin,
            now: Self.now,
            audit: b.fixture.audit
        )
        let state = try await a.revocations.state(tokenID: "none", userID: "alice")
        #expect(state.userCutoffMilliseconds == later.millisecondsSinceEpoch)
    }

    @Test("an account disabled through the other node is refused at the next request", arguments: StoreBackend.allCases)
    func disabledElsewhere(_ backend: StoreBackend) async throws {
        let (a, b) = try await twoNodes(backend)
        let token = try await a.issuer.issue(to: "alice", lifetime: .default, now: Self.now).token
        for _ in 0..<3 { _ = try await a.authenticator.authenticate(authorization: "Bearer \(token)", now: Self.now) }
        _ = try await b.fixture.store.disable(
            id: "alice",
            by: AccountsFixture.admin,
            now: Self.now,
            audit: b.fixture.audit
        )
        #expect(await a.refuses(token, .disabledUser))
        await #expect(throws: AccountError(.alreadyDisabled, "")) {
            try await a.fixture.store.disable(
                id: "alice",
                by: AccountsFixture.admin,
                now: Self.now,
                audit: a.fixture.audit
            )
        }
        _ = try await a.fixture.store.enable(
            id: "alice",
            by: AccountsFixture.admin,
            now: Self.now,
            audit: a.fixture.audit
        )
        _ = try await b.authenticator.authenticate(authorization: "Bearer \(token)", now: Self.now)
    }

    @Test("two nodes adding the same id at once: one account, one entry, the other refused as a duplicate")
    func addRace() async throws {
        let fixture = try await AccountsFixture.make(.postgres)
        let other = try await fixture.reopened()
        for round in 0..<5 {
            let id = "user-\(round)"
            async let first = Self.attempt { try await fixture.add(id, .clinician, ["patient=p1"]) }
            async let second = Self.attempt { try await other.add(id, .clinician, ["patient=p1"]) }
            let outcomes = [await first, await second]
            let made = outcomes.compactMap { try? $0.get() }
            #expect(made.count == 1, "\(id): \(outcomes)")
            let refused = outcomes.compactMap { outcome -> AccountError.Code? in
                if case .failure(let error) = outcome { return error.code }
                return nil
            }
            #expect(refused == [.duplicateUser], "\(id)")
            let created = try await fixture.entries().filter {
                $0.event.kind == .accountCreated && AccountAuditRecord($0)?.id == id
            }
            #expect(created.map(\.index) == made.map { $0.createdAuditIndex })
        }
    }

    static func attempt(_ body: () async throws -> Account) async -> Result<Account, AccountError> {
        do {
            return .success(try await body())
        } catch let error as AccountError {
            return .failure(error)
        } catch {
            return .failure(AccountError(.storageFailure, "\(error)"))
        }
    }

    @Test("shared: a crash before the commit leaves neither the account nor its entry, and nothing to recover")
    func sharedCrashLeavesNothing() async throws {
        let fixture = try await AccountsFixture.make(.postgres)
        let size = try await fixture.audit.storedSize()
        await fixture.store.simulateCrash(at: .afterAuditAppend)
        await #expect(throws: AccountError(.storageFailure, "")) {
            try await fixture.add("dave", .clinician, ["patient=p1"])
        }
        let restarted = try await fixture.reopened()
        #expect(try await restarted.store.account(id: "dave") == nil)
        #expect(try await restarted.audit.storedSize() == size)
        #expect(try await restarted.store.recover(audit: restarted.audit, now: Self.now).isEmpty)
        try await restarted.add("dave", .clinician, ["patient=p1"])
    }
}

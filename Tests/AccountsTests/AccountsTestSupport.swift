import Accounts
import AuditLog
import Foundation
import MedTunnelTestSupport
import SafetyPolicy
import TherapyModel

/// A state directory on disk with a real audit log and account store: its own SQLite files, or
/// bound to a PostgreSQL database of the test's own (the accounts shared by every node on it).
struct AccountsFixture {
    let backend: StoreBackend
    let directory: String
    let audit: AuditLog
    let store: AccountStore

    static let now = Timestamp(millisecondsSinceEpoch: 1_763_700_000_000)

    static func make(_ backend: StoreBackend = .sqlite) async throws -> AccountsFixture {
        try await open(backend, directory: try backend.newStateDirectory("accounts"))
    }

    private static func open(_ backend: StoreBackend, directory: String) async throws -> AccountsFixture {
        let audit = try await backend.openAudit(stateDirectory: directory)
        return AccountsFixture(
            backend: backend,
            directory: directory,
            audit: audit,
            store: try await AccountStore.forStateDirectory(directory)
        )
    }

    /// The same state directory opened again, as a restarted process, or another gateway node
    /// on the same database, would: its own connections and audit log writer.
    func reopened() async throws -> AccountsFixture {
        try await Self.open(backend, directory: directory)
    }

    static var admin: AuditActor { try! AuditActor(id: "admin-1", role: "admin") }

    @discardableResult
    func add(_ id: String, _ role: ActorRole, _ attributes: [String]) async throws -> Account {
        let parsed = try attributes.map { try AccountAttribute(parsing: $0) }
        return try await store.add(
            id: id,
            role: role,
            attributes: try AccountAttributes(parsed, for: role),
            by: Self.admin,
            now: Self.now,
            audit: audit
        )
    }

    /// Every entry of the log, decoded.
    func entries() async throws -> [AuditEntry] {
        try await audit.entries(in: 0..<(try await audit.storedSize()))
    }
}

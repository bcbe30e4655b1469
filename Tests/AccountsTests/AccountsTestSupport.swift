import Accounts
import AuditLog
import Foundation
import SafetyPolicy
import TherapyModel

/// A state directory on disk with a real audit log and account store.
struct AccountsFixture {
    let directory: String
    let audit: AuditLog
    let store: AccountStore

    static let now = Timestamp(millisecondsSinceEpoch: 1_763_700_000_000)

    static func make() async throws -> AccountsFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("accounts-\(UUID().uuidString)")
            .path
        let audit = try await AuditLog.open(stateDirectory: directory)
        return AccountsFixture(
            directory: directory,
            audit: audit,
            store: try AccountStore.open(stateDirectory: directory)
        )
    }

    /// The same state directory opened again, as a restarted process would.
    func reopened() async throws -> AccountsFixture {
        AccountsFixture(
            directory: directory,
            audit: try await AuditLog.open(stateDirectory: directory),
            store: try AccountStore.open(stateDirectory: directory)
        )
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

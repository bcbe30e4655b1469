import AuditLog
import AuditPostgres
import Foundation
import MedTunnelTestSupport
import StoresPostgres
import Testing

@testable import Lockouts

/// Where the store suites run: `@Test(arguments: LockoutBackend.allCases)` (sqlite: the store's own
/// file beside a SQLite log; postgres: its tables in the log's database, several nodes).
typealias LockoutBackend = StoreBackend

/// A real audit log and lockout store: a state directory on disk (SQLite), or a PostgreSQL
/// database of the test's own with the checkpoint key in a state directory.
struct LockoutFixture {
    let backend: LockoutBackend
    let directory: String
    let postgresURL: String?
    let audit: AuditLog
    let store: LockoutStore

    static let now: Int64 = 1_763_700_000_000
    static let alice = try! AuditActor(id: "alice", role: "incident")
    static let bob = try! AuditActor(id: "bob", role: "incident")
    static let carol = try! AuditActor(id: "carol", role: "incident")

    /// A rejection's code: `LockoutError` equality is on the code alone.
    static func error(_ code: LockoutError.Code) -> LockoutError { LockoutError(code, "") }

    static func make(_ backend: LockoutBackend = .sqlite) async throws -> LockoutFixture {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("lockouts-\(UUID().uuidString)").path
        return try await open(
            backend,
            directory: directory,
            postgresURL: backend == .postgres ? try PostgresTestServer.newDatabase() : nil
        )
    }

    private static func open(
        _ backend: LockoutBackend,
        directory: String,
        postgresURL: String?
    ) async throws -> LockoutFixture {
        switch backend {
        case .sqlite:
            let audit = try await AuditLog.open(stateDirectory: directory)
            return LockoutFixture(
                backend: backend,
                directory: directory,
                postgresURL: nil,
                audit: audit,
                store: try LockoutStore(stateDirectory: directory, audit: audit)
            )
        case .postgres:
            let url = try #require(postgresURL)
            let state = AuditStateDirectory(path: directory)
            try state.create()
            let audit = try await AuditLog(
                store: try await PostgresAuditStore(url: url),
                signer: try state.signer(name: "medtunnel.local/audit", create: true)
            )
            return LockoutFixture(
                backend: backend,
                directory: directory,
                postgresURL: url,
                audit: audit,
                store: try await PostgresSharedDatabase.lockoutStore(url: url, audit: audit)
            )
        }
    }

    /// The same state directory (or database) opened again, as a restarted gateway would (the
    /// old store is simply abandoned, as a killed process's would be); on PostgreSQL also what a
    /// second gateway node on the same database opens.
    func reopened() async throws -> LockoutFixture {
        try await Self.open(backend, directory: directory, postgresURL: postgresURL)
    }

    /// Every entry of the log.
    func entries() async throws -> [AuditEntry] {
        try await audit.entries(in: 0..<(try await audit.storedSize()))
    }

    /// Starts a lockout by alice.
    @discardableResult
    func start(
        _ scope: LockoutScope,
        reason: String = "suspected compromise",
        suspend: Bool = false,
        at now: Int64 = LockoutFixture.now
    ) async throws -> Lockout {
        try await store.start(scope: scope, reason: reason, suspendDelivery: suspend, by: Self.alice, now: now)
    }

    /// The lockout payload of the audit entry at `index`, checking its kind.
    func record(at index: UInt64, kind: AuditKind) async throws -> LockoutAuditRecord {
        let entry = try await audit.entry(at: index)
        #expect(entry.event.kind == kind)
        return try #require(LockoutAuditRecord(entry))
    }

    /// Appends a lockout entry straight to the log, as a gateway that crashed before its store
    /// commit would have left it.
    @discardableResult
    func appendDirectly(_ record: LockoutAuditRecord, by actor: AuditActor) async throws -> UInt64 {
        try await audit.append(try record.auditEvent(actor: actor)).index
    }
}

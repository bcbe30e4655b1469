public import AuditLog
import AuditPostgres
import Foundation
import StoresPostgres

/// Where a store suite runs: `@Test(arguments: StoreBackend.allCases)`.
public enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The store's own SQLite file beside the state directory's SQLite audit log (one gateway).
    case sqlite
    /// The store's tables in the audit log's PostgreSQL database (several gateway nodes): the
    /// state directory is bound to a database of the test's own, as `medtunnel db attach` does.
    case postgres

    public var description: String { "on \(self.rawValue)" }

    /// A new state directory for this backend, its log not yet opened. The stores' openers
    /// (`forStateDirectory`) then find it as a gateway would: its own files, or the binding.
    public func newStateDirectory(_ prefix: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        if self == .postgres {
            Self.installSharedOpeners()
            try AuditStateDirectory(path: directory).bind(to: try PostgresTestServer.newDatabase())
        }
        return directory
    }

    /// The state directory's audit log, opened as a gateway opens it (its tables migrated on
    /// PostgreSQL). Not through `AuditStoreFactories`: installing that for the whole test process
    /// would hide the refusal other suites check when none is installed.
    public func openAudit(stateDirectory: String) async throws -> AuditLog {
        let directory = AuditStateDirectory(path: stateDirectory)
        guard let url = try directory.binding() else { return try await AuditLog.open(stateDirectory: stateDirectory) }
        return try await AuditLog(
            store: try await PostgresAuditStore(url: url, migrate: true),
            signer: try directory.signer(name: AuditLog.Configuration().origin, create: true)
        )
    }

    /// What `medtunnel` installs at its start for the stores (`forStateDirectory`), so that a
    /// bound state directory's accounts, revocations and passkeys open on PostgreSQL here too.
    public static func installSharedOpeners() {
        if SharedDatabases.connect == nil {
            SharedDatabases.connect = { url in try await PostgresSharedDatabase.connect(url: url) }
        }
    }
}

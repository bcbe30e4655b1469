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

    /// What `medtunnel` installs at its start, so that a bound state directory's log and stores
    /// open on PostgreSQL in this process too.
    public static func installSharedOpeners() {
        if AuditStoreFactories.remote == nil {
            AuditStoreFactories.remote = { url, create in try await PostgresAuditStore(url: url, migrate: create) }
        }
        if SharedDatabases.connect == nil {
            SharedDatabases.connect = { url in try await PostgresSharedDatabase.connect(url: url) }
        }
    }
}

public import AuditLog
import Synchronization

/// Where the security event store of a state directory bound to a database is opened: the
/// database's shared store (module StoresPostgres), installed by the executable at startup beside
/// `ChangeStoreFactories.shared` (this module cannot import PostgreSQL's). A bound directory
/// opened with no factory is an error, never `events.sqlite` beside a shared log: an alert raised
/// on one node would then be listed, and acknowledged, on that node alone.
public enum SecurityEventStoreFactories {
    /// Opens the shared store at `url` (which may carry a password: never put it in a message)
    /// writing through `audit`, the log in that same database.
    public typealias Shared = @Sendable (_ url: String, _ audit: AuditLog) async throws -> SecurityEventStore

    private static let installed = Mutex<Shared?>(nil)

    public static var shared: Shared? {
        get { self.installed.withLock { $0 } }
        set { self.installed.withLock { $0 = newValue } }
    }
}

extension SecurityEventStore {
    /// The security event store of a state directory: in the database its log is bound to
    /// (`medtunnel db attach`), shared with every node on it; otherwise its `events.sqlite`.
    public static func forStateDirectory(
        _ stateDirectory: String,
        audit: AuditLog
    ) async throws -> SecurityEventStore {
        let bound: String?
        do {
            bound = try AuditStateDirectory(path: stateDirectory).binding()
        } catch {
            throw SecurityEventError(.storageFailure, "\(stateDirectory): read its database binding: \(error)")
        }
        guard let url = bound else { return try SecurityEventStore(stateDirectory: stateDirectory, audit: audit) }
        guard let factory = SecurityEventStoreFactories.shared else {
            throw SecurityEventError(
                .storageFailure,
                "\(stateDirectory) is bound to a database, and this program cannot open security event stores there"
            )
        }
        return try await factory(url, audit)
    }
}

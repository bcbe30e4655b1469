public import AuditLog
import Synchronization

/// Where the change store of a state directory bound to a database is opened: the database's
/// shared store (module StoresPostgres), installed by the executable at startup as it installs
/// `AuditStoreFactories.remote` (this module cannot import PostgreSQL's). A bound directory
/// opened with no factory is an error, never `changes.sqlite` beside a shared log: each node
/// would then hold only the requests made through it.
public enum ChangeStoreFactories {
    /// Opens the shared store at `url` (which may carry a password: never put it in a message)
    /// writing through `audit`, the log in that same database.
    public typealias Shared = @Sendable (_ url: String, _ audit: AuditLog) async throws -> ChangeRequestStore

    private static let installed = Mutex<Shared?>(nil)

    public static var shared: Shared? {
        get { self.installed.withLock { $0 } }
        set { self.installed.withLock { $0 = newValue } }
    }
}

extension ChangeRequestStore {
    /// The change store of a state directory: in the database its log is bound to
    /// (`medtunnel db attach`), shared with every node on it; otherwise its `changes.sqlite`.
    public static func forStateDirectory(
        _ stateDirectory: String,
        audit: AuditLog,
        lifetimes: CommandLifetimes = .default
    ) async throws -> ChangeRequestStore {
        let bound: String?
        do {
            bound = try AuditStateDirectory(path: stateDirectory).binding()
        } catch {
            throw ChangeRequestError(.storageFailure, "\(stateDirectory): read its database binding: \(error)")
        }
        guard let url = bound else {
            return try ChangeRequestStore.open(stateDirectory: stateDirectory, audit: audit, lifetimes: lifetimes)
        }
        guard let factory = ChangeStoreFactories.shared else {
            throw ChangeRequestError(
                .storageFailure,
                "\(stateDirectory) is bound to a database, and this program cannot open change stores there"
            )
        }
        return try await factory(url, audit)
    }
}

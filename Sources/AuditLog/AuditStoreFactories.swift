import Synchronization

/// Where a state directory's audit log is opened when the directory is bound to a database
/// (`audit-database.url`, see `AuditStateDirectory.binding`).
///
/// `AuditLog` cannot import the PostgreSQL store (that module depends on this one), so the
/// executable installs a factory once at startup, as it bootstraps logging. A bound directory
/// opened with no factory installed is an error, never a silent fallback to SQLite: that would
/// fork the log into two halves nobody verifies together.
public enum AuditStoreFactories {
    /// Opens the store at `url` (which may carry a password: never put it in a message);
    /// `create` is true for writers, which may migrate the database, false for readers,
    /// which must change nothing.
    public typealias Remote = @Sendable (_ url: String, _ create: Bool) async throws -> any AuditStore

    private static let installed = Mutex<Remote?>(nil)

    /// The factory for bound state directories, if the program installed one.
    public static var remote: Remote? {
        get { self.installed.withLock { $0 } }
        set { self.installed.withLock { $0 = newValue } }
    }
}

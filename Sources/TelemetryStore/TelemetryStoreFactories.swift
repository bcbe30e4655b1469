import AuditLog
import Foundation
import Synchronization

/// Where the telemetry store of a state directory bound to a database is opened: the database's
/// shared store (module StoresPostgres), installed by the executable at startup beside
/// `ChangeStoreFactories.shared` (this module cannot import PostgreSQL's). A bound directory
/// opened with no factory is an error, never `gateway.sqlite` beside a shared log: a pump's
/// telemetry would then be listed only by the node that held its session.
public enum TelemetryStoreFactories {
    /// Opens the shared store at `url` (which may carry a password: never put it in a message).
    public typealias Shared = @Sendable (_ url: String) async throws -> TelemetryStore

    private static let installed = Mutex<Shared?>(nil)

    public static var shared: Shared? {
        get { self.installed.withLock { $0 } }
        set { self.installed.withLock { $0 = newValue } }
    }
}

extension TelemetryStore {
    /// The telemetry store of a state directory: in the database its log is bound to
    /// (`medtunnel db attach`), shared with every node on it; otherwise its `gateway.sqlite`.
    public static func forStateDirectory(_ stateDirectory: String) async throws -> TelemetryStore {
        let bound: String?
        do {
            bound = try AuditStateDirectory(path: stateDirectory).binding()
        } catch {
            throw TelemetryStoreError(.storageFailed, "\(stateDirectory): read its database binding: \(error)")
        }
        guard let url = bound else { return try TelemetryStore(directory: stateDirectory) }
        guard let factory = TelemetryStoreFactories.shared else {
            throw TelemetryStoreError(
                .storageFailed,
                "\(stateDirectory) is bound to a database, and this program cannot open telemetry stores there"
            )
        }
        return try await factory(url)
    }

    /// Whether the state directory is bound to a database (its telemetry is then opened with
    /// `forStateDirectory`, never as `gateway.sqlite`).
    public static func isBound(_ stateDirectory: String) -> Bool {
        (try? AuditStateDirectory(path: stateDirectory).binding()) != nil
    }
}

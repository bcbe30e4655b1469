import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files of an audit log in a state directory:
///
///     DIR/                      mode 0700 when created here
///       audit.sqlite            the SQLite store, mode 0600 (with audit.sqlite-wal and -shm)
///       checkpoint-key.pem      ECDSA P-256 checkpoint signing key, PEM, mode 0600, made on first use
///       audit-database.url      when present: the log lives in this PostgreSQL database instead
///                               of audit.sqlite (`medtunnel db attach`), mode 0600
///
/// The key's contents are never logged or printed; a key file readable by group or others is refused.
/// Every open of the log by state directory goes through `openStore`, which follows the binding:
/// the gateway and every command then agree on where the log is.
public struct AuditStateDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var databasePath: String { "\(self.path)/audit.sqlite" }
    public var signingKeyPath: String { "\(self.path)/checkpoint-key.pem" }

    /// Creates the directory if needed (mode 0700).
    public func create() throws {
        if mkdir(self.path, 0o700) != 0 && errno != EEXIST {
            throw StateFiles.posixError("create state directory \(self.path)", errno)
        }
    }

    /// Loads the checkpoint signing key, generating it (mode 0600) if `create` and it is absent.
    public func signer(name: String, create: Bool) throws -> CheckpointSigner {
        if create { try self.create() }
        let pem = try StateFiles.privateKeyPEM(at: self.signingKeyPath, what: "checkpoint signing key", create: create)
        {
            try CheckpointSigner.generate(name: name).pemRepresentation
        }
        return try CheckpointSigner(name: name, pem: pem)
    }

    /// Opens this directory's log store: the bound database when `audit-database.url` exists
    /// (through `AuditStoreFactories.remote`), else the SQLite store. `create` makes the directory
    /// and SQLite database if absent, and lets a bound database be migrated.
    public func openStore(create: Bool) async throws -> any AuditStore {
        if let url = try self.binding() {
            guard let remote = AuditStoreFactories.remote else {
                throw AuditLogError(
                    .storageFailure,
                    "\(self.bindingPath) binds this state directory's audit log to a PostgreSQL database, "
                        + "but this program cannot open one: use medtunnel (nothing was opened or created)"
                )
            }
            return try await remote(url, create)
        }
        return try self.openSQLiteStore(create: create)
    }

    /// Opens the SQLite store, ignoring any binding: for `db attach`, which must look at what
    /// the directory held before it is bound. Everything else calls `openStore`.
    /// `create` makes the directory and database if absent.
    public func openSQLiteStore(create: Bool) throws -> SQLiteAuditStore {
        if create {
            try self.create()
            // Create the database file owner-only before SQLite does; its -wal and -shm inherit the mode.
            let fd = open(self.databasePath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw StateFiles.posixError("create \(self.databasePath)", errno) }
            close(fd)
        } else if !FileManager.default.fileExists(atPath: self.databasePath) {
            throw AuditLogError(.storageFailure, "\(self.databasePath): no audit database in this state directory")
        }
        return try SQLiteAuditStore(path: self.databasePath, create: create)
    }
}

extension AuditLog.Configuration {
    /// A log shared by several gateway nodes (a state directory bound to PostgreSQL) is
    /// checkpointed only by the node holding the checkpoint role, on its timer
    /// (`checkpointAtTip`): no commit carries a checkpoint of its own, so two nodes never sign at
    /// once. (Half the range: `checkpointedSize + checkpointInterval` must not overflow.)
    var signedByTimerOnly: Self {
        var configuration = self
        configuration.checkpointInterval = UInt64.max / 2
        return configuration
    }
}

extension AuditLog {
    /// Opens (creating on first use) the log in a state directory: the SQLite store and the
    /// checkpoint signing key. This is how the gateway opens its log.
    public static func open(stateDirectory: String, configuration: Configuration = .init()) async throws -> AuditLog {
        let directory = AuditStateDirectory(path: stateDirectory)
        let signer = try directory.signer(name: configuration.origin, create: true)
        let store = try await directory.openStore(create: true)
        return try await AuditLog(
            store: store,
            signer: signer,
            configuration: try directory.binding() == nil ? configuration : configuration.signedByTimerOnly
        )
    }

    /// Opens the log of a state directory that already has one, creating nothing: for a second
    /// process (a command) appending beside the running gateway, where a mistyped directory must
    /// be an error (`.noLog`, naming the path) rather than a new, empty log nobody reads.
    public static func openExisting(
        stateDirectory: String,
        configuration: Configuration = .init()
    ) async throws -> AuditLog {
        let directory = AuditStateDirectory(path: stateDirectory)
        guard try directory.binding() != nil || FileManager.default.fileExists(atPath: directory.databasePath) else {
            let what =
                FileManager.default.fileExists(atPath: directory.path)
                ? "\(directory.path) holds no audit log (no \(directory.databasePath))"
                : "\(directory.path) does not exist"
            throw AuditLogError(
                .noLog,
                "\(what): give the gateway's state directory, the one holding audit.sqlite (nothing was created)"
            )
        }
        let signer = try directory.signer(name: configuration.origin, create: false)
        let store = try await directory.openStore(create: false)
        return try await AuditLog(store: store, signer: signer, configuration: configuration)
    }
}

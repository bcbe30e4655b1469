import ArgumentParser
import AuditLog
import AuditPostgres
import Foundation

extension DatabaseCommand {
    /// `medtunnel db attach`: from now on the state directory's audit log lives in the database.
    ///
    /// The binding is the state directory's (`audit-database.url`), not an option of each command,
    /// so the gateway and every command that opens the log by state directory follow it and can
    /// never disagree on where the log is. Attaching never merges two logs: it refuses a directory
    /// whose SQLite log already has entries, and a database whose log this directory's key did
    /// not sign.
    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep a state directory's audit log in this PostgreSQL database from now on.",
            discussion: """
                Checks the database is reachable and migrates it, then writes STATE/audit-database.url \
                (mode 0600). Refuses a state directory whose audit.sqlite already holds entries, a \
                database whose log was signed by another key, and a state directory in use by a \
                gateway. The other stores stay in the state directory. Exits 1 when refused, 3 when \
                the database cannot be reached.
                """
        )

        @Option(name: .customLong("state-dir"), help: "The gateway's state directory (created if absent).")
        var stateDirectory: String

        @OptionGroup var location: Location

        @Option(help: "The log's checkpoint origin and key name.")
        var origin: String = AuditLog.Configuration().origin

        func run() async throws {
            // Alone: a gateway running on the directory has its log open where it was.
            let mode = try StateDirectoryAccess.forWriting(self.stateDirectory, reportingAs: "db")
            guard mode.isAlone else {
                Console.err("db: --state-dir \(self.stateDirectory) is in use by a gateway: stop it, then attach")
                throw ExitCode(1)
            }
            try await reportingAuditErrors(command: "db") {
                let url = try PostgresURL(self.location.database)
                let directory = AuditStateDirectory(path: self.stateDirectory)
                try await self.refuseLocalEntries(directory)
                if let bound = try directory.binding(), bound != self.location.database {
                    let named = (try? PostgresURL(bound)).map(String.init(describing:)) ?? "another database"
                    throw AuditLogError(
                        .invalidArgument,
                        "--state-dir \(self.stateDirectory) is already attached to \(named): its log is there; "
                            + "attach a new state directory to use \(url)"
                    )
                }
                let signer = try directory.signer(name: self.origin, create: true)
                let store = try await PostgresAuditStore(url: self.location.database, migrate: true)
                let size: UInt64
                do {
                    size = try await store.size()
                    try await self.refuseForeignLog(store, size: size, signer: signer, url: url)
                } catch {
                    await store.close()
                    throw error
                }
                await store.close()
                try directory.bind(to: self.location.database)
                Console.out("\(self.stateDirectory): audit log attached to \(url) (\(size) entries there)")
            }
        }

        /// Entries already in audit.sqlite would be left behind, a log nobody reads or verifies.
        private func refuseLocalEntries(_ directory: AuditStateDirectory) async throws {
            guard FileManager.default.fileExists(atPath: directory.databasePath) else { return }
            let entries = try await SQLiteAuditStore(readingOnly: directory.databasePath).size()
            guard entries == 0 else {
                throw AuditLogError(
                    .invalidArgument,
                    "this state directory already holds \(entries) audit entries in audit.sqlite; "
                        + "attach a new state directory"
                )
            }
        }

        /// A non-empty log must have been signed by this directory's key (re-attaching the same
        /// directory, or a restored copy of it); a log of another gateway would get two signers.
        private func refuseForeignLog(
            _ store: PostgresAuditStore,
            size: UInt64,
            signer: CheckpointSigner,
            url: PostgresURL
        ) async throws {
            guard size > 0 else { return }
            let keyPath = AuditStateDirectory(path: self.stateDirectory).signingKeyPath
            guard let latest = try await store.latestCheckpoint() else {
                // Nothing shows whose log it is yet: a node joining a shared log copies the
                // first node's key, and a checkpoint proves the copy is the same key.
                throw AuditLogError(
                    .invalidArgument,
                    "\(url) holds an audit log of \(size) entries and no checkpoint yet, so \(keyPath) cannot be "
                        + "checked against it: sign one first (medtunnel audit checkpoint --state-dir DIR, on the "
                        + "directory already attached), then attach again"
                )
            }
            guard (try? signer.verifier.verifyCheckpoint(note: latest.note, context: "checkpoint")) != nil else {
                throw AuditLogError(
                    .invalidArgument,
                    "\(url) already holds an audit log of \(size) entries not signed by \(keyPath); "
                        + "attach to an empty database (one log per gateway key)"
                )
            }
        }
    }
}

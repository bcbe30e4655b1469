import ArgumentParser
import Foundation
import StateBackup

/// `medtunnel backup`: a copy of the gateway's state directory taken while it runs, and its check
/// (docs/backup.md).
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up a gateway's state directory while it runs, or verify a backup.",
        subcommands: [Create.self, Verify.self],
        defaultSubcommand: Create.self
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Copy every database, key and state file into a new folder, with a manifest (the default).",
            discussion: """
                Works beside a running gateway and takes no lock: each database is copied with \
                SQLite's online backup API (the stores first, the audit log last), then keys and \
                small state files; manifest.json holds each file's SHA-256 and size, and the audit \
                log's tree size and root computed from the copy. Written into DEST.partial and \
                renamed to DEST at the end, so a DEST that exists is complete. Folders are never \
                copied: back up the gateway's PKI folder separately, and keep the CA folder offline.
                Example: medtunnel backup --state-dir /var/lib/medtunnel --to /backup/medtunnel-2026-12-02
                """
        )

        @Option(name: .customLong("state-dir"), help: "The gateway's state directory.")
        var stateDirectory: String

        @Option(name: .customLong("to"), help: "The new folder to write (must not exist).")
        var destination: String

        func run() async throws {
            do throws(StateBackupError) {
                let manifest = try await StateBackup.make(
                    stateDirectory: self.stateDirectory,
                    to: self.destination,
                    medtunnelVersion: MedTunnel.version,
                    now: Date()
                ) { event in
                    switch event {
                    case .copied(let name, let bytes): Console.err("backup: \(name) (\(bytes) bytes)")
                    case .progress(let name, let percent): Console.err("backup: \(name) \(percent)%")
                    case .skippedFolder(let name):
                        Console.err(
                            "backup: skipped the folder \(name): a backup holds the state directory's own files "
                                + "(keep any PKI apart, its CA folder offline)"
                        )
                    }
                }
                Console.out(
                    "backup \(self.destination): \(manifest.files.count) files, audit log \(manifest.audit.treeSize) "
                        + "entries, root \(manifest.audit.rootHash)"
                )
            } catch {
                Console.err("backup: \(error.reason)")
                throw ExitCode(error.code == .storage ? 3 : 1)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Check a backup: checksums, PRAGMA integrity_check, the audit log to its manifest's size and root.",
            discussion: "Exits 0 when the backup is whole, 1 naming the first file that is not, 2 on a usage error."
        )

        @Argument(help: "The backup folder (--to of `medtunnel backup`).")
        var backup: String

        func run() async throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: self.backup, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                Console.err("backup verify: \(self.backup): no such folder; give the --to folder of `medtunnel backup`")
                throw ExitCode(2)
            }
            do throws(StateBackupError) {
                let manifest = try await BackupVerifier.verify(backup: self.backup)
                Console.out(
                    "backup \(self.backup) verified: \(manifest.files.count) files, audit log "
                        + "\(manifest.audit.treeSize) entries, root \(manifest.audit.rootHash), made \(manifest.createdAt)"
                )
            } catch {
                Console.err("backup verify: \(error.reason)")
                throw ExitCode(1)
            }
        }
    }
}

import ArgumentParser
import AuditLog
import Foundation
import StateBackup

/// `medtunnel restore`: a verified backup into a new state directory (docs/backup.md).
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a verified backup into a new state directory, for a gateway to start on.",
        discussion: """
            Verifies the backup first. The target must not exist or be empty, and no gateway may \
            hold it. The restore is recorded in the restored log (config.changed, "change": \
            "state.restored") before the folder appears under its name. With --witness-state, a \
            backup that ends before the tree the witness cosigned is refused (a rollback: the \
            witness would refuse every later checkpoint as a fork) unless --force.
            Exit status: 0 restored, 1 refused (backup damaged, rollback, target in use or not \
            empty), 2 usage, 3 storage failure.
            Example: medtunnel restore /backup/medtunnel-2026-12-02 --state-dir /var/lib/medtunnel-restored \
            --witness-state /var/lib/medtunnel-witness/state.json
            """
    )

    @Argument(help: "The backup folder (--to of `medtunnel backup`).")
    var backup: String

    @Option(name: .customLong("state-dir"), help: "The new state directory (must not exist, or be empty).")
    var stateDirectory: String

    @Option(
        name: .customLong("witness-state"),
        help: ArgumentHelp(
            "A witness's state file (`medtunnel witness --state`, or `audit verify --witness`): refuse a rollback.",
            valueName: "file"
        )
    )
    var witnessState: String?

    @Flag(help: "Restore even when the witness cosigned more than the backup holds (recorded in the log).")
    var force = false

    @Option(help: "Who restores, as recorded in the audit log (an admin's id).")
    var by: String = "local-admin"

    func run() async throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: self.backup, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            Console.err("restore: \(self.backup): no such folder; give the --to folder of `medtunnel backup`")
            throw ExitCode(2)
        }
        let actor: AuditActor
        do {
            actor = try AuditActor(id: self.by, role: "admin")
        } catch let error as AuditLogError {
            Console.err("restore: --by '\(self.by)': \(error.reason)")
            throw ExitCode(2)
        }
        let outcome: StateRestore.Outcome
        do throws(StateBackupError) {
            outcome = try await StateRestore.restore(
                backup: self.backup,
                into: self.stateDirectory,
                witnessState: self.witnessState,
                force: self.force,
                actor: actor,
                osUser: AdministrativePayload.currentUser(),
                now: Date()
            )
        } catch {
            Console.err("restore: \(error.reason)")
            throw ExitCode(error.code == .storage ? 3 : 1)
        }
        if outcome.verdict != .consistent {
            Console.err(
                "restore: --force: restored behind the witness (it cosigned \(outcome.witnessed ?? 0)); "
                    + "reset the witness's record of this log once the lost entries are explained"
            )
        }
        Console.out(
            "restored \(self.backup) into \(self.stateDirectory): audit log \(outcome.manifest.audit.treeSize) "
                + "entries, restore recorded at index \(outcome.entryIndex); start the gateway with --state-dir "
                + "\(self.stateDirectory)"
        )
    }
}

public import AuditLog
public import Foundation
import SQLiteStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `medtunnel restore`: a verified backup made into a new state directory that a gateway then
/// starts on (its crash recovery settles what the backup caught half-done) and whose log it
/// continues.
///
/// 1. the backup is verified first (`BackupVerifier`): a damaged backup is never restored;
/// 2. rollback rule: when a witness's state shows a larger cosigned tree than the backup's (or
///    the same size with another root), restoring would be a rollback (a fork) to that witness,
///    which would refuse every later checkpoint: refused unless forced;
/// 3. the target must not exist or be empty, and its lock must be free (no gateway on it);
/// 4. the files go into `NEW.restoring` (locked, so no gateway starts on it), fsync'd; the
///    restore itself is appended to the restored log (`config.changed`, `"change":
///    "state.restored"`, naming the backup and whether it was forced) and a checkpoint signed,
///    so the log says where its history was cut; then the folder is renamed to `NEW`.
public enum StateRestore {
    public struct Outcome: Sendable {
        public var manifest: BackupManifest
        public var verdict: WitnessRollbackCheck.Verdict
        public var witnessed: UInt64?
        /// The index of the `state.restored` entry.
        public var entryIndex: UInt64
    }

    public static func restore(
        backup: String,
        into stateDirectory: String,
        witnessState: String?,
        force: Bool,
        actor: AuditActor,
        osUser: String,
        now: Date
    ) async throws(StateBackupError) -> Outcome {
        let manifest = try await BackupVerifier.verify(backup: backup)
        var witnessed: WitnessRollbackCheck.Witnessed?
        if let witnessState {
            witnessed = try WitnessRollbackCheck.witnessed(statePath: witnessState, origin: manifest.audit.origin)
        }
        let root = WitnessRollbackCheck.unhex(manifest.audit.rootHash) ?? []
        let verdict = WitnessRollbackCheck.check(
            backupSize: manifest.audit.treeSize,
            backupRoot: root,
            witnessed: witnessed
        )
        if !force { try Self.refuse(verdict, manifest: manifest) }

        let existing = try Self.lockEmptyTarget(stateDirectory)
        defer { existing?.release() }
        let staging = stateDirectory + ".restoring"
        guard !BackupFiles.exists(staging) else {
            throw StateBackupError(
                .notEmpty,
                "\(staging) exists: another restore into \(stateDirectory) is running, or one was interrupted; "
                    + "remove \(staging) once no restore runs"
            )
        }
        guard mkdir(staging, 0o700) == 0 else { throw BackupFiles.posixError("create \(staging)", errno) }
        do throws(StateBackupError) {
            let lock = try StateDirectoryLock.acquire(
                stateDirectory: staging,
                role: .restore,
                command: "medtunnel restore",
                wait: .zero
            )
            defer { lock.release() }
            for file in manifest.files {
                try BackupFiles.copy("\(backup)/\(file.name)", to: "\(staging)/\(file.name)")
            }
            let payload = Self.payload(
                manifest: manifest,
                backup: backup,
                force: force,
                verdict: verdict,
                witnessed: witnessed?.size,
                osUser: osUser
            )
            let index = try await Self.appendRestoreEntry(staging, actor: actor, payload: payload, now: now)
            try Self.settle("\(staging)/\(BackupManifest.auditDatabase)")
            try BackupFiles.syncDirectory(staging)
            if existing != nil {
                // Emptied of our own lock files, so that the rename may replace it.
                for name in [StateDirectoryLock.fileName, StateDirectoryLock.writersFileName] {
                    unlink("\(stateDirectory)/\(name)")
                }
            }
            guard rename(staging, stateDirectory) == 0 else {
                throw BackupFiles.posixError("rename \(staging) to \(stateDirectory)", errno)
            }
            try BackupFiles.syncDirectory(BackupFiles.parent(of: stateDirectory))
            return Outcome(manifest: manifest, verdict: verdict, witnessed: witnessed?.size, entryIndex: index)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// The refusal of a rollback or fork, saying what to do.
    static func refuse(_ verdict: WitnessRollbackCheck.Verdict, manifest: BackupManifest) throws(StateBackupError) {
        let size = manifest.audit.treeSize
        switch verdict {
        case .consistent:
            return
        case .rollback(let witnessed):
            throw StateBackupError(
                .rollback,
                "the backup ends at \(size) entries but the witness cosigned \(witnessed): restoring it would roll "
                    + "the log back, and the witness would refuse every later checkpoint as a fork; use a later "
                    + "backup, or --force (then reset the witness's record of this log, once the loss of entries "
                    + "\(size)..<\(witnessed) is explained)"
            )
        case .fork:
            throw StateBackupError(
                .rollback,
                "the backup's log has \(size) entries, as the witness cosigned, but another root hash: the "
                    + "witness saw another history (a fork); use another backup, or --force once it is explained"
            )
        }
    }

    /// Locks the target if it exists, and checks it holds nothing but lock files.
    private static func lockEmptyTarget(_ path: String) throws(StateBackupError) -> StateDirectoryLock? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            let parent = BackupFiles.parent(of: path)
            guard BackupFiles.exists(parent) else {
                throw StateBackupError(.notEmpty, "--state-dir \(path): its parent \(parent) does not exist")
            }
            return nil
        }
        guard info.st_mode & 0o170000 == 0o040000 else {
            throw StateBackupError(.notEmpty, "--state-dir \(path) is a file; give a new or empty folder")
        }
        let lock = try StateDirectoryLock.acquire(
            stateDirectory: path,
            role: .restore,
            command: "medtunnel restore",
            wait: .seconds(5)
        )
        let others = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter {
            $0 != StateDirectoryLock.fileName && $0 != StateDirectoryLock.writersFileName
        }
        guard others.isEmpty else {
            lock.release()
            throw StateBackupError(
                .notEmpty,
                "--state-dir \(path) is not empty (it holds \(others.sorted().prefix(3).joined(separator: ", "))"
                    + (others.count > 3 ? ", …" : "") + "): restore into a new folder; never over live state"
            )
        }
        return lock
    }

    private static func payload(
        manifest: BackupManifest,
        backup: String,
        force: Bool,
        verdict: WitnessRollbackCheck.Verdict,
        witnessed: UInt64?,
        osUser: String
    ) -> [UInt8] {
        var object: [String: Any] = [
            "administrative": true,
            "osUser": osUser,
            "change": "state.restored",
            "from": URL(fileURLWithPath: backup).standardizedFileURL.path,
            "backup": [
                "createdAt": manifest.createdAt, "treeSize": manifest.audit.treeSize,
                "rootHash": manifest.audit.rootHash, "medtunnelVersion": manifest.medtunnelVersion,
                "stateDirectory": manifest.stateDirectory,
            ] as [String: Any],
            "forced": force && verdict != .consistent,
        ]
        if let witnessed { object["witnessedSize"] = witnessed }
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return Array(data)
    }

    /// Appends the restore's entry and signs a checkpoint over it; the log is closed on return.
    private static func appendRestoreEntry(
        _ staging: String,
        actor: AuditActor,
        payload: [UInt8],
        now: Date
    ) async throws(StateBackupError) -> UInt64 {
        do {
            let log = try await AuditLog.openExisting(stateDirectory: staging)
            let receipt = try await log.append(
                try AuditEvent(
                    timeMilliseconds: Int64((now.timeIntervalSince1970 * 1000).rounded(.down)),
                    actor: actor,
                    kind: .configChanged,
                    payload: payload
                )
            )
            _ = try await log.checkpoint()
            return receipt.index
        } catch let error as AuditLogError {
            throw StateBackupError(.storage, "record the restore in the restored log: \(error.reason)")
        } catch {
            throw StateBackupError(.storage, "record the restore in the restored log: \(error)")
        }
    }

    /// Folds the WAL the append left back into the database file before the folder is renamed,
    /// and checks that no connection is still open on it.
    private static func settle(_ path: String) throws(StateBackupError) {
        do {
            let connection = try SQLiteConnection(path: path, create: false)
            let mode = try connection.pragma("journal_mode", "DELETE")
            guard mode.lowercased() == "delete" else {
                throw StateBackupError(.storage, "\(path): still in use after the restore's entry")
            }
        } catch let error as SQLiteError {
            throw StateBackupError(.storage, "\(path): \(error.reason)")
        } catch let error as StateBackupError {
            throw error
        } catch {
            throw StateBackupError(.storage, "\(path): \(error)")
        }
    }
}

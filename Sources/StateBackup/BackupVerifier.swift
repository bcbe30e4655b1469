import Foundation
import SQLiteStore

/// `medtunnel backup verify`: a backup is whole when every file matches its manifest (size and
/// SHA-256, and nothing unlisted beside them), every database passes `PRAGMA integrity_check`,
/// and the audit log in it verifies (`LogVerifier`) to the manifest's tree size and root. The
/// first failure is thrown (`.mismatch`), naming the file. Nothing in the backup is written:
/// databases are opened read-only.
public enum BackupVerifier {
    public static func verify(backup: String) async throws(StateBackupError) -> BackupManifest {
        let manifest = try BackupManifest.load(backup: backup)
        let listed = Set(manifest.files.map(\.name))
        guard listed.count == manifest.files.count else {
            throw StateBackupError(
                .mismatch,
                "\(BackupManifest.fileName): lists a file twice",
                fileName: BackupManifest.fileName
            )
        }
        guard listed.contains(BackupManifest.auditDatabase) else {
            throw StateBackupError(
                .mismatch,
                "\(BackupManifest.fileName): lists no \(BackupManifest.auditDatabase)",
                fileName: BackupManifest.fileName
            )
        }
        let present: [String]
        do {
            present = try FileManager.default.contentsOfDirectory(atPath: backup)
        } catch {
            throw StateBackupError(.storage, "\(backup): cannot list it (\(BackupFiles.posixReason(error)))")
        }
        for name in present.sorted() where name != BackupManifest.fileName && !listed.contains(name) {
            throw StateBackupError(
                .mismatch,
                "\(name): in the backup but not in its manifest (added after the backup was made?)",
                fileName: name
            )
        }
        for file in manifest.files {
            let path = "\(backup)/\(file.name)"
            guard BackupFiles.exists(path) else {
                throw StateBackupError(.mismatch, "\(file.name): missing from the backup", fileName: file.name)
            }
            let digest = try BackupFiles.digest(path)
            guard digest.size == file.size, digest.sha256 == file.sha256 else {
                throw StateBackupError(
                    .mismatch,
                    "\(file.name): its checksum does not match the manifest (the file was changed or damaged)",
                    fileName: file.name
                )
            }
            if file.kind == .sqlite { try Self.checkIntegrity(path, name: file.name) }
        }
        let summary = try await StateBackup.summarize(backup: backup, origin: manifest.audit.origin)
        guard summary.treeSize == manifest.audit.treeSize, summary.rootHash == manifest.audit.rootHash else {
            throw StateBackupError(
                .mismatch,
                "\(BackupManifest.auditDatabase): the log verifies to size \(summary.treeSize) root "
                    + "\(summary.rootHash), the manifest says size \(manifest.audit.treeSize) root "
                    + "\(manifest.audit.rootHash)",
                fileName: BackupManifest.auditDatabase
            )
        }
        return manifest
    }

    private static func checkIntegrity(_ path: String, name: String) throws(StateBackupError) {
        let problems: [String]
        do {
            problems = try SQLiteConnection(path: path, create: false, readOnly: true).integrityProblems()
        } catch {
            throw StateBackupError(
                .mismatch,
                "\(name): not a readable SQLite database (\((error as? SQLiteError)?.reason ?? "unreadable"))",
                fileName: name
            )
        }
        guard problems.isEmpty else {
            throw StateBackupError(
                .mismatch,
                "\(name): fails PRAGMA integrity_check: \(problems.prefix(3).joined(separator: "; "))",
                fileName: name
            )
        }
    }
}

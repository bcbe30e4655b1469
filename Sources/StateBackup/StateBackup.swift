public import AuditLog
public import Foundation
import SQLiteStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A backup of a gateway's state directory, taken while the gateway runs (docs/backup.md).
///
/// Order, and why:
/// 1. every SQLite database but the audit log, each with SQLite's online backup API (one
///    consistent snapshot per database, writers never stopped);
/// 2. the key files and small state files (checkpoint and token keys, cosignatures.json,
///    syslog.cursor, …), copied as they are;
/// 3. the audit log, last.
/// The stores are views of the log, each written *after* the entry it records ("log, then
/// act"). Copying the log last makes the backup look like a gateway that crashed between an
/// append and its effect, which recovery settles (rolled forward from the log); copied first,
/// a store could hold a change whose entry is missing from the copy, which recovery must
/// quarantine. Likewise syslog.cursor copied before the log never points past it.
///
/// Everything goes into `DEST.partial`, fsync'd, with `manifest.json` written last; the rename
/// to `DEST` is the commit, so a crash never leaves a `DEST` that looks complete. Folders in the
/// state directory are never copied: a backup is the state directory's own files, never a PKI
/// (the CA folder stays offline).
public enum StateBackup {
    /// Databases at least this many pages (4 KiB each) get progress lines.
    public static let progressThresholdPages = 25_000

    /// What the backup is doing, for a line on stderr.
    public enum Event: Sendable {
        case copied(name: String, bytes: UInt64)
        case progress(name: String, percent: Int)
        case skippedFolder(name: String)
    }

    /// Backs up `stateDirectory` into the new folder `destination`. Needs no lock: it only reads.
    public static func make(
        stateDirectory: String,
        to destination: String,
        medtunnelVersion: String,
        origin: String = AuditLog.Configuration().origin,
        now: Date,
        report: (Event) -> Void = { _ in }
    ) async throws(StateBackupError) -> BackupManifest {
        guard !BackupFiles.exists(destination) else {
            throw StateBackupError(
                .destinationExists,
                "--to \(destination) exists: a backup never overwrites; give a new folder name"
            )
        }
        let partial = destination + ".partial"
        guard !BackupFiles.exists(partial) else {
            throw StateBackupError(
                .destinationExists,
                "\(partial) exists: another backup to \(destination) is running, or one was interrupted; "
                    + "remove \(partial) once no backup runs"
            )
        }
        let audit = AuditStateDirectory(path: stateDirectory)
        // A backup is one consistent copy of the directory and its log. A bound directory's log
        // is in PostgreSQL, which this tool cannot copy consistently with the files: refuse
        // rather than make a backup that restores to a gateway without its log.
        guard !BackupFiles.exists(audit.bindingPath) else {
            throw StateBackupError(
                .remoteLog,
                "--state-dir \(stateDirectory) keeps its audit log in PostgreSQL (the database named in "
                    + "\(audit.bindingPath)): back the log up with the database's own tools (pg_dump, base "
                    + "backups) and this directory with a file copy taken while the gateway is stopped; "
                    + "medtunnel backup does not back up a bound state directory (nothing was written)"
            )
        }
        guard BackupFiles.exists(audit.databasePath) else {
            throw StateBackupError(
                .notABackup,
                "--state-dir \(stateDirectory) holds no audit log (\(audit.databasePath)): give the gateway's state directory"
            )
        }
        guard mkdir(partial, 0o700) == 0 else { throw BackupFiles.posixError("create \(partial)", errno) }
        do throws(StateBackupError) {
            return try await self.fill(
                partial,
                from: stateDirectory,
                to: destination,
                medtunnelVersion: medtunnelVersion,
                origin: origin,
                now: now,
                report: report
            )
        } catch {
            // A failed backup leaves nothing behind; only a killed one leaves DEST.partial.
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
    }

    private static func fill(
        _ partial: String,
        from stateDirectory: String,
        to destination: String,
        medtunnelVersion: String,
        origin: String,
        now: Date,
        report: (Event) -> Void
    ) async throws(StateBackupError) -> BackupManifest {
        var databases: [String] = []
        var files: [String] = []
        for entry in try BackupFiles.classify(directory: stateDirectory) {
            switch entry {
            case .database(let name) where name != BackupManifest.auditDatabase: databases.append(name)
            case .database: break
            case .file(let name): files.append(name)
            case .folder(let name): report(.skippedFolder(name: name))
            case .skipped: break
            }
        }
        var listed: [BackupManifest.File] = []
        for name in databases {
            listed.append(try self.copyDatabase(name, from: stateDirectory, to: partial, report: report))
        }
        for name in files {
            try BackupFiles.copy("\(stateDirectory)/\(name)", to: "\(partial)/\(name)")
            let digest = try BackupFiles.digest("\(partial)/\(name)")
            listed.append(.init(name: name, kind: .file, size: digest.size, sha256: digest.sha256))
            report(.copied(name: name, bytes: digest.size))
        }
        listed.append(
            try self.copyDatabase(BackupManifest.auditDatabase, from: stateDirectory, to: partial, report: report)
        )
        let summary = try await self.summarize(backup: partial, origin: origin)
        let manifest = BackupManifest(
            format: BackupManifest.currentFormat,
            createdAt: ISO8601DateFormatter().string(from: now),
            medtunnelVersion: medtunnelVersion,
            stateDirectory: URL(fileURLWithPath: stateDirectory).standardizedFileURL.path,
            audit: summary,
            files: listed
        )
        let data: Data
        do {
            data = try manifest.encoded()
        } catch {
            throw StateBackupError(.storage, "encode \(BackupManifest.fileName)")
        }
        try BackupFiles.writeNew(data, to: "\(partial)/\(BackupManifest.fileName)")
        try BackupFiles.syncDirectory(partial)
        guard rename(partial, destination) == 0 else {
            throw BackupFiles.posixError("rename \(partial) to \(destination)", errno)
        }
        try BackupFiles.syncDirectory(BackupFiles.parent(of: destination))
        return manifest
    }

    /// The audit log in a backup (or staging) folder, verified entry by entry: its size and root.
    static func summarize(backup: String, origin: String) async throws(StateBackupError) -> BackupManifest.AuditSummary
    {
        let directory = AuditStateDirectory(path: backup)
        do {
            let verifier = try directory.signer(name: origin, create: false).verifier
            let store = try SQLiteAuditStore(readingOnly: directory.databasePath)
            let report = try await LogVerifier.verify(store: store, verifier: verifier, origin: origin)
            return .init(
                origin: origin,
                treeSize: report.size,
                rootHash: report.rootHash.map { String(format: "%02x", $0) }.joined()
            )
        } catch let error as AuditLogError {
            throw StateBackupError(
                .mismatch,
                "\(BackupManifest.auditDatabase): the audit log does not verify: \(error.reason)",
                fileName: BackupManifest.auditDatabase
            )
        } catch {
            throw StateBackupError(.storage, "\(BackupManifest.auditDatabase): \(error)")
        }
    }

    private static func copyDatabase(
        _ name: String,
        from stateDirectory: String,
        to partial: String,
        report: (Event) -> Void
    ) throws(StateBackupError) -> BackupManifest.File {
        let target = "\(partial)/\(name)"
        do {
            let source = try SQLiteConnection(path: "\(stateDirectory)/\(name)", create: false, readOnly: true)
            var lastPercent = -1
            try source.backup(to: target) { copied, total in
                guard total >= Self.progressThresholdPages else { return }
                let percent = copied * 100 / max(total, 1)
                if percent / 10 != lastPercent / 10 {
                    lastPercent = percent
                    report(.progress(name: name, percent: percent))
                }
            }
        } catch let error as SQLiteError {
            throw StateBackupError(.storage, "back up \(stateDirectory)/\(name): \(error.reason)")
        } catch {
            throw StateBackupError(.storage, "back up \(stateDirectory)/\(name): \(error)")
        }
        let digest = try BackupFiles.digest(target)
        report(.copied(name: name, bytes: digest.size))
        return .init(name: name, kind: .sqlite, size: digest.size, sha256: digest.sha256)
    }
}

internal import CSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SQLiteConnection {
    /// Copies this database into a new file at `destination` with SQLite's online backup API,
    /// while other connections and other processes keep writing to it.
    ///
    /// The copy is one consistent snapshot: a read transaction on this connection is held from
    /// the first page to the last, so in WAL mode writers go on (into the WAL) and the backup is
    /// never restarted by their commits, however busy the database is. `pagesPerStep` pages are
    /// copied between calls to `progress(copied, total)`. The copy is left in rollback-journal
    /// mode (`journal_mode=DELETE`, one self-contained file with no -wal beside it) and fsync'd.
    /// `destination` must not exist.
    public func backup(
        to destination: String,
        pagesPerStep: Int32 = 4096,
        progress: (_ copied: Int, _ total: Int) -> Void = { _, _ in }
    ) throws {
        // O_EXCL: never overwrite, and the file is owner-only before SQLite opens it.
        let fd = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SQLiteError(resultCode: 14, reason: "create \(destination): \(String(cString: strerror(errno)))")
        }
        close(fd)
        try self.copyPages(to: destination, pagesPerStep: pagesPerStep, progress: progress)
        // The copied header still says WAL (the source's mode), which the backup's own
        // connection does not see: a fresh connection opens it as WAL, and switching that one to
        // DELETE folds the WAL back and rewrites the header, leaving one self-contained file.
        let settled = try SQLiteConnection(path: destination, create: false)
        let mode = try settled.pragma("journal_mode", "DELETE")
        guard mode.lowercased() == "delete" else {
            throw SQLiteError(resultCode: 1, reason: "\(destination): journal_mode is \(mode) after the backup")
        }
        let copy = open(destination, O_RDONLY | O_CLOEXEC)
        guard copy >= 0, fsync(copy) == 0 else {
            let code = errno
            if copy >= 0 { close(copy) }
            throw SQLiteError(resultCode: 10, reason: "fsync \(destination): \(String(cString: strerror(code)))")
        }
        close(copy)
    }

    /// The online backup itself, on a connection of its own that is closed on return.
    private func copyPages(
        to destination: String,
        pagesPerStep: Int32,
        progress: (_ copied: Int, _ total: Int) -> Void
    ) throws {
        let target = try SQLiteConnection(path: destination, create: false)
        try self.readTransaction {
            // A deferred transaction takes its snapshot at the first read; holding it across the
            // steps keeps one snapshot (sqlite3_backup_step opens none of its own).
            try self.execute("SELECT count(*) FROM sqlite_master")
            guard let backup = sqlite3_backup_init(target.handle, "main", self.handle, "main") else {
                throw target.error(sqlite3_errcode(target.handle), "backup \(self.path) to \(destination)")
            }
            var rc = SQLITE_OK
            repeat {
                rc = sqlite3_backup_step(backup, pagesPerStep)
                let total = Int(sqlite3_backup_pagecount(backup))
                progress(total - Int(sqlite3_backup_remaining(backup)), total)
                if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { usleep(10_000) }
            } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
            let finished = sqlite3_backup_finish(backup)
            guard rc == SQLITE_DONE, finished == SQLITE_OK else {
                throw target.error(rc == SQLITE_DONE ? finished : rc, "backup \(self.path) to \(destination)")
            }
        }
    }

    /// `PRAGMA integrity_check`: empty when the database is sound, else SQLite's findings (at
    /// most 100 lines).
    public func integrityProblems() throws -> [String] {
        let statement = try self.prepare("PRAGMA integrity_check(100)")
        defer { statement.reset() }
        var lines: [String] = []
        while try statement.step() {
            lines.append(statement.text(0))
        }
        return lines == ["ok"] ? [] : lines
    }
}

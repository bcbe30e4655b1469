import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File helpers of backup and restore: what in a state directory is state, checksums, and
/// copies that are on disk (fsync'd) before anything refers to them.
enum BackupFiles {
    /// What a state directory entry is, for a backup.
    enum Entry: Equatable {
        case database(String)
        case file(String)
        /// Not state: locks, SQLite's -wal/-shm/-journal (the online backup reads through them),
        /// temporary files of durable writes.
        case skipped(String)
        /// A folder: a backup holds the state directory's own files only.
        case folder(String)
    }

    /// The first 16 bytes of every SQLite 3 database.
    static let sqliteHeader = Array("SQLite format 3\u{0}".utf8)

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
    }

    /// The entries of `directory`, by name.
    static func classify(directory: String) throws(StateBackupError) -> [Entry] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw StateBackupError(.storage, "\(directory): cannot list it (\(Self.posixReason(error)))")
        }
        return names.map { name in
            let path = "\(directory)/\(name)"
            var info = stat()
            guard lstat(path, &info) == 0 else { return .skipped(name) }
            if info.st_mode & 0o170000 == 0o040000 { return .folder(name) }
            guard info.st_mode & 0o170000 == 0o100000 else { return .skipped(name) }
            if name.hasSuffix(".lock") || name.hasSuffix("-wal") || name.hasSuffix("-shm")
                || name.hasSuffix("-journal") || name.contains(".tmp-")
            {
                return .skipped(name)
            }
            return Self.startsWithSQLiteHeader(path) ? .database(name) : .file(name)
        }
    }

    static func startsWithSQLiteHeader(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 16)) ?? Data()
        return Array(head) == Self.sqliteHeader
    }

    /// Size and hex SHA-256 of the file at `path`, read in 1 MiB pieces.
    static func digest(_ path: String) throws(StateBackupError) -> (size: UInt64, sha256: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StateBackupError(.storage, "\(path): cannot open (\(String(cString: strerror(errno))))")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size: UInt64 = 0
        do {
            while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty {
                hasher.update(data: piece)
                size += UInt64(piece.count)
            }
        } catch {
            throw StateBackupError(.storage, "\(path): cannot read (\(Self.posixReason(error)))")
        }
        return (size, hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }

    /// Copies `source` to the new file `destination` (mode 0600), fsync'd.
    static func copy(_ source: String, to destination: String) throws(StateBackupError) {
        guard let data = FileManager.default.contents(atPath: source) else {
            throw StateBackupError(.storage, "\(source): cannot read (\(String(cString: strerror(errno))))")
        }
        try Self.writeNew(data, to: destination)
    }

    /// Writes `data` to the new file `path` (mode 0600, never over an existing file), fsync'd.
    static func writeNew(_ data: Data, to path: String) throws(StateBackupError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.posixError("create \(path)", errno) }
        defer { close(fd) }
        let failed: Int32? = data.withUnsafeBytes { raw -> Int32? in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                guard written > 0 else { return errno }
                offset += written
            }
            return nil
        }
        if let failed { throw Self.posixError("write \(path)", failed) }
        guard fsync(fd) == 0 else { throw Self.posixError("fsync \(path)", errno) }
    }

    /// fsync of a directory, so the names in it (a new file, a rename) survive a power loss.
    static func syncDirectory(_ path: String) throws(StateBackupError) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.posixError("open directory \(path)", errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Self.posixError("fsync directory \(path)", errno) }
    }

    static func parent(of path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func posixError(_ what: String, _ code: Int32) -> StateBackupError {
        StateBackupError(.storage, "\(what): \(String(cString: strerror(code)))")
    }

    /// The system's words for a Foundation error, never its domain and code.
    static func posixReason(_ error: any Error) -> String {
        if let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError,
            underlying.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return "unreadable"
    }
}

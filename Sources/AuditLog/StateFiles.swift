import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small durable-file helpers for the state directory.
public enum StateFiles {
    /// Reads the PEM private key at `path`; when it is absent and `create` is true, writes
    /// `generate()` there first (mode 0600, fsync'd, never half-written; if another process
    /// creates it at the same moment, its key wins and is read back). A key file readable by
    /// group or others is refused. `what` names the key in errors; the key is never logged.
    public static func privateKeyPEM(
        at path: String,
        what: String,
        create: Bool,
        generate: () throws -> String
    ) throws -> String {
        if !FileManager.default.fileExists(atPath: path) {
            guard create else {
                throw AuditLogError(.keyFile, "\(path): no \(what) in this state directory")
            }
            let fresh = try generate()
            if try self.createExclusively(Data(fresh.utf8), at: path, mode: 0o600) {
                return fresh
            }
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw self.posixError("stat \(path)", errno)
        }
        guard info.st_mode & 0o077 == 0 else {
            throw AuditLogError(
                .keyFile,
                "\(path): readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); run chmod 600"
            )
        }
        guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AuditLogError(.keyFile, "\(path): unreadable")
        }
        return pem
    }

    /// Writes `bytes` to `path` atomically and durably (see `writeDurably`), with permission bits
    /// `permissions` (e.g. 0o600): for other modules' state files (the witness's).
    public static func replaceDurably(_ bytes: [UInt8], at path: String, permissions: UInt16) throws {
        try self.writeDurably(Data(bytes), to: path, mode: mode_t(permissions))
    }

    /// Writes `data` to `path` atomically and durably: a temporary file in the same directory
    /// (created with `mode`), fsync, rename over `path`, fsync of the directory.
    static func writeDurably(_ data: Data, to path: String, mode: mode_t) throws {
        let temporary = "\(path).tmp-\(getpid())"
        try self.writeNew(data, to: temporary, mode: mode)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw self.posixError("rename \(temporary) to \(path)", code)
        }
        try self.syncDirectory(of: path)
    }

    /// Writes `data` to `path` only if `path` does not exist yet, never leaving a partial file
    /// at `path`: write a temporary file, fsync, then `link` it into place (which fails if taken).
    /// Returns false if another writer got there first.
    static func createExclusively(_ data: Data, at path: String, mode: mode_t) throws -> Bool {
        let temporary = "\(path).tmp-\(getpid())"
        try self.writeNew(data, to: temporary, mode: mode)
        defer { unlink(temporary) }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return false }
            throw self.posixError("link \(path)", errno)
        }
        try self.syncDirectory(of: path)
        return true
    }

    private static func writeNew(_ data: Data, to path: String, mode: mode_t) throws {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw self.posixError("create \(path)", errno) }
        defer { close(fd) }
        // The umask may have narrowed the mode; set it exactly.
        guard fchmod(fd, mode) == 0 else { throw self.posixError("chmod \(path)", errno) }
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                guard written > 0 else { throw self.posixError("write \(path)", errno) }
                offset += written
            }
        }
        guard fsync(fd) == 0 else { throw self.posixError("fsync \(path)", errno) }
    }

    static func syncDirectory(of path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw self.posixError("open directory \(directory)", errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw self.posixError("fsync directory \(directory)", errno) }
    }

    static func posixError(_ what: String, _ code: Int32) -> AuditLogError {
        AuditLogError(.storageFailure, "\(what): \(String(cString: strerror(code)))")
    }
}

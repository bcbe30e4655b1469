import AuditLog
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where `audit export` writes: standard output, or a file that appears only when complete.
///
/// A file export is written to `FILE.tmp-PID` beside it (mode 0600: an export holds patient
/// data), fsync'd, and renamed over `FILE` by `commit`, then the directory is fsync'd; a failed
/// or interrupted export leaves no partial `FILE` behind.
final class ExportOutput: @unchecked Sendable {
    private let fd: Int32
    private let path: String?
    private let temporary: String?
    private var closed = false

    init(path: String?) throws {
        guard let path else {
            self.fd = STDOUT_FILENO
            self.path = nil
            self.temporary = nil
            return
        }
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.failure("create \(temporary)", errno) }
        self.fd = fd
        self.path = path
        self.temporary = temporary
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(self.fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.failure("write \(self.temporary ?? "standard output")", errno)
            }
            offset += count
        }
    }

    /// Makes what was written durable (a file; standard output may be a pipe and is left alone).
    func sync() throws {
        guard let temporary = self.temporary else { return }
        guard fsync(self.fd) == 0 else { throw Self.failure("fsync \(temporary)", errno) }
    }

    /// Puts the finished file in place.
    func commit() throws {
        guard let path = self.path, let temporary = self.temporary else { return }
        self.closeFile()
        guard rename(temporary, path) == 0 else { throw Self.failure("rename to \(path)", errno) }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            defer { close(dirFD) }
            guard fsync(dirFD) == 0 else { throw Self.failure("fsync \(directory)", errno) }
        }
    }

    private func closeFile() {
        guard !self.closed else { return }
        self.closed = true
        close(self.fd)
    }

    /// A failed system call as the audit commands report it (exit status 3: storage).
    private static func failure(_ what: String, _ code: Int32) -> AuditLogError {
        AuditLogError(.storageFailure, "\(what): \(String(cString: strerror(code)))")
    }

    /// Removes a half-written file after a failure.
    func abandon() {
        guard let temporary = self.temporary else { return }
        self.closeFile()
        unlink(temporary)
    }
}

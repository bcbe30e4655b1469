import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One writer at a time across processes: an exclusive `flock` on a lock file beside the
/// database, so `medtunnel user add` and a starting gateway's recovery never interleave.
/// The lock is released by closing the file (also when the process dies).
struct WriterLock {
    let path: String

    /// Blocks until the lock is held and returns its file descriptor.
    func acquire() throws -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw AccountError(.storageFailure, "open lock \(path): \(String(cString: strerror(errno)))")
        }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let code = errno
                close(fd)
                throw AccountError(.storageFailure, "lock \(path): \(String(cString: strerror(code)))")
            }
        }
        return fd
    }

    func release(_ fd: Int32) {
        close(fd)
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The lock on a gateway's state directory: an exclusive `flock` on `STATE/gateway.lock`, with
/// the holder's PID, command and start time written into the file once it is taken (for the
/// message that refuses the next one). The kernel drops a `flock` when its holder dies, kill -9
/// included, so a crash never leaves a stale lock behind; the file stays, but only the lock
/// counts, never the file's contents.
///
/// Two files, because two questions:
///
///     gateway.lock   EX  for the life of a gateway (or a restore, or a command running alone):
///                        "who owns this directory?"; a second gateway is refused
///     writers.lock   EX  while crash recovery runs (a gateway's start, a command running alone)
///                    SH  by each command writing beside a running gateway, until it exits
///
/// Commands that write (`user …`, `token …`, `audit append`) are built to run beside a gateway:
/// each write is one SQLite transaction plus an audit append. What must not run beside anyone is
/// crash recovery, which reads a half-done change as one its writer abandoned: recovery runs only
/// under `writers.lock` EX, so never while a command is between its row and its audit entry.
/// Read-only commands (`audit show`, `audit verify`, `backup`) take neither lock.
public final class StateDirectoryLock {
    /// What the holder is, written into `gateway.lock`.
    public enum Role: String, Sendable, Codable {
        /// A gateway: holds the directory for its whole life.
        case gateway
        /// A restore writing a state directory.
        case restore
        /// A short-lived command running with no gateway beside it.
        case command
    }

    /// Who holds the lock, as the holder wrote it.
    public struct Holder: Sendable, Hashable, Codable {
        public var pid: Int32
        public var command: String
        public var role: Role
        /// RFC 3339, UTC.
        public var since: String
    }

    /// How a writing command may use the state directory.
    public enum WriterAccess {
        /// No other process holds the directory: this command holds both locks until it exits,
        /// and may run crash recovery and create the state files.
        case alone(StateDirectoryLock)
        /// A gateway holds it: this command holds `writers.lock` shared until it exits (so no
        /// recovery starts under it), runs no recovery and creates nothing.
        case besideGateway(Holder)
    }

    public static let fileName = "gateway.lock"
    public static let writersFileName = "writers.lock"

    public let stateDirectory: String
    private let fd: Int32
    private var writersFD: Int32?
    private var closesOnDeinit = true

    private init(stateDirectory: String, fd: Int32) {
        self.stateDirectory = stateDirectory
        self.fd = fd
    }

    deinit {
        guard self.closesOnDeinit else { return }
        self.release()
    }

    /// Takes `gateway.lock` for `role`. Refused at once (`.inUse`, naming the holder's PID, command
    /// and start) when a gateway or a restore holds it; a short-lived command holding it is waited
    /// for up to `wait`. The directory must exist.
    public static func acquire(
        stateDirectory: String,
        role: Role,
        command: String,
        wait: Duration = .seconds(30)
    ) throws(StateBackupError) -> StateDirectoryLock {
        let path = "\(stateDirectory)/\(Self.fileName)"
        let fd = try Self.openLockFile(path)
        let deadline = ContinuousClock.now + wait
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { break }
            guard errno == EAGAIN || errno == EINTR else {
                let code = errno
                close(fd)
                throw StateBackupError(.storage, "lock \(path): \(String(cString: strerror(code)))")
            }
            let holder = Self.holder(path: path)
            if let holder, holder.role != .command || ContinuousClock.now >= deadline {
                close(fd)
                throw Self.inUse(stateDirectory, holder)
            }
            if holder == nil && ContinuousClock.now >= deadline {
                close(fd)
                throw Self.inUse(stateDirectory, nil)
            }
            usleep(50_000)
        }
        let lock = StateDirectoryLock(stateDirectory: stateDirectory, fd: fd)
        lock.record(Holder(pid: getpid(), command: command, role: role, since: Self.now()))
        return lock
    }

    /// Decides how a writing command runs: alone (both locks, recovery allowed), or beside the
    /// gateway that holds the directory (`writers.lock` shared, no recovery). Waits up to `wait`
    /// for another command running alone, and for a starting gateway's recovery to end.
    /// The directory must exist.
    public static func writerAccess(
        stateDirectory: String,
        command: String,
        wait: Duration = .seconds(60)
    ) throws(StateBackupError) -> WriterAccess {
        let path = "\(stateDirectory)/\(Self.fileName)"
        do throws(StateBackupError) {
            let lock = try Self.acquire(stateDirectory: stateDirectory, role: .command, command: command, wait: wait)
            try lock.holdWritersOut(wait: wait)
            return .alone(lock)
        } catch {
            guard error.code == .inUse, let holder = Self.holder(path: path), holder.role == .gateway else {
                throw error
            }
            let writers = try Self.openLockFile("\(stateDirectory)/\(Self.writersFileName)")
            try Self.flockWaiting(writers, LOCK_SH, wait: wait) {
                "\(stateDirectory) is in recovery by process \(holder.pid) (\(holder.command)) for longer than "
                    + "\(wait); wait for the gateway to finish starting, then try again"
            }
            // Deliberately never closed: the shared lock lasts until this process exits.
            return .besideGateway(holder)
        }
    }

    /// Takes `writers.lock` exclusively: waits for the commands writing beside a gateway (each a
    /// short transaction and an audit append) to end, and keeps new ones out, so that crash
    /// recovery can read every half-done change as abandoned.
    public func holdWritersOut(wait: Duration = .seconds(60)) throws(StateBackupError) {
        guard self.writersFD == nil else { return }
        let fd = try Self.openLockFile("\(self.stateDirectory)/\(Self.writersFileName)")
        try Self.flockWaiting(fd, LOCK_EX, wait: wait) { [stateDirectory = self.stateDirectory] in
            "commands are still writing to \(stateDirectory) after \(wait) (\(Self.writersFileName)); "
                + "wait for them to finish, then start again"
        }
        self.writersFD = fd
    }

    /// Lets commands write beside this holder again (a gateway, once its recovery is done).
    public func letWritersIn() {
        if let fd = self.writersFD {
            close(fd)
            self.writersFD = nil
        }
    }

    /// Releases both locks (a process that exits releases them too).
    public func release() {
        self.letWritersIn()
        close(self.fd)
        self.closesOnDeinit = false
    }

    /// Keeps the locks until the process exits, whatever happens to this object: for commands,
    /// whose lifetime is the process's.
    public func keepUntilExit() {
        self.closesOnDeinit = false
    }

    /// The holder recorded in `path` (gateway.lock), if it can be read. A holder writes it just
    /// after taking the lock, so it can briefly be empty or the previous holder's.
    public static func holder(path: String) -> Holder? {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return nil }
        return try? JSONDecoder().decode(Holder.self, from: data)
    }

    /// The refusal a second gateway, a restore or a command sees.
    static func inUse(_ stateDirectory: String, _ holder: Holder?) -> StateBackupError {
        guard let holder else {
            return StateBackupError(
                .inUse,
                "--state-dir \(stateDirectory) is in use by another process (\(Self.fileName) is locked); stop it first"
            )
        }
        return StateBackupError(
            .inUse,
            "--state-dir \(stateDirectory) is in use by process \(holder.pid) (\(holder.command), since \(holder.since)); stop it first"
        )
    }

    // MARK: Helpers

    private func record(_ holder: Holder) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(holder) else { return }
        // Informational only (the lock is the flock): a failed write leaves a vaguer message.
        _ = ftruncate(self.fd, 0)
        _ = data.withUnsafeBytes { pwrite(self.fd, $0.baseAddress, $0.count, 0) }
    }

    private static func openLockFile(_ path: String) throws(StateBackupError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StateBackupError(.storage, "open \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// `flock(fd, operation)`, polled without blocking until `wait` has passed.
    private static func flockWaiting(
        _ fd: Int32,
        _ operation: Int32,
        wait: Duration,
        timedOut: () -> String
    ) throws(StateBackupError) {
        let deadline = ContinuousClock.now + wait
        while flock(fd, operation | LOCK_NB) != 0 {
            guard errno == EAGAIN || errno == EINTR else {
                let code = errno
                close(fd)
                throw StateBackupError(.storage, "lock: \(String(cString: strerror(code)))")
            }
            guard ContinuousClock.now < deadline else {
                close(fd)
                throw StateBackupError(.inUse, timedOut())
            }
            usleep(20_000)
        }
    }

    private static func now() -> String {
        ISO8601DateFormatter().string(from: Date())
    }
}

@available(*, unavailable)
extension StateDirectoryLock: Sendable {}

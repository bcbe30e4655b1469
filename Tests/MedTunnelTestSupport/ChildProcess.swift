public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, not Foundation's `Process`: Swift 6.3.1's
/// `Process.run()` on Linux crashes now and then (a buffer over-read in
/// `findMaximumOpenFromProcSelfFD()`, swift-corelibs-foundation PR #5472), and this suite starts
/// hundreds of processes beside gateways holding many descriptors. The child gets the given
/// descriptors as 0, 1 and 2 and no other descriptor of this process (closefrom 3).
public final class ChildProcess: @unchecked Sendable {
    public let processIdentifier: Int32
    private let lock = NSLock()
    private var exitStatus: Int32?

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    private static let closeFrom: CloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()

    public init(
        executable: String,
        arguments: [String],
        environment: [String: String] = [:],
        stdin: Int32,
        stdout: Int32,
        stderr: Int32
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        _ = Self.closeFrom?(&actions, 3)
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else {
            throw ChildProcessError("posix_spawn \(executable): \(String(cString: strerror(result)))")
        }
        self.processIdentifier = pid
    }

    /// Reaps the child if it has exited (without waiting).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        guard exitStatus == nil else { return false }
        var status: Int32 = 0
        let reaped = waitpid(processIdentifier, &status, WNOHANG)
        if reaped == processIdentifier {
            exitStatus = status
            return false
        }
        return reaped == 0
    }

    public func terminate() { kill(processIdentifier, SIGTERM) }

    /// SIGTERM, then SIGKILL if the child has not exited after `grace` seconds.
    public func stop(grace: Double = 5) {
        terminate()
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { usleep(10_000) }
        if isRunning { kill(processIdentifier, SIGKILL) }
        waitUntilExit()
    }

    public func waitUntilExit() {
        lock.lock()
        defer { lock.unlock() }
        guard exitStatus == nil else { return }
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) < 0 && errno == EINTR {}
        exitStatus = status
    }

    /// The exit code, or the signal's number for a child a signal ended (as `Process` reports).
    public var terminationStatus: Int32 {
        waitUntilExit()
        let status = lock.withLock { exitStatus ?? 0 }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    public var terminationReason: Process.TerminationReason {
        waitUntilExit()
        let status = lock.withLock { exitStatus ?? 0 }
        return status & 0x7f == 0 ? .exit : .uncaughtSignal
    }
}

/// What went wrong starting a child.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension ChildProcess {
    /// What a finished child wrote and how it ended.
    public struct Output: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `executable` to completion (terminated after `timeout` seconds), its output in
    /// temporary files read once it has exited.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        timeout: Double = 60,
        environment: [String: String] = [:]
    ) throws -> Output {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outPath = directory.appendingPathComponent("out").path
        let errPath = directory.appendingPathComponent("err").path
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer {
            close(null)
            close(out)
            close(err)
        }
        let child = try ChildProcess(
            executable: executable,
            arguments: arguments,
            environment: environment,
            stdin: null,
            stdout: out,
            stderr: err
        )
        let deadline = Date().addingTimeInterval(timeout)
        while child.isRunning {
            if Date() > deadline {
                child.stop()
                break
            }
            usleep(5_000)
        }
        child.waitUntilExit()
        return Output(
            status: child.terminationStatus,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        )
    }

    /// Starts `executable` with its stdout on a pipe (stderr to /dev/null); returns the child and
    /// the pipe's read end (the caller closes it).
    public static func withPipedOutput(_ executable: String, _ arguments: [String]) throws -> (ChildProcess, Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ChildProcessError("pipe: \(String(cString: strerror(errno)))") }
        // Children spawned here close everything from 3 up; this keeps the ends out of others'.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer {
            close(null)
            close(fds[1])
        }
        let child = try ChildProcess(
            executable: executable,
            arguments: arguments,
            stdin: null,
            stdout: fds[1],
            stderr: null
        )
        return (child, fds[0])
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, not Foundation's `Process`: Swift 6.3.1's
/// `Process.run()` on Linux crashes now and then (a buffer over-read in
/// `findMaximumOpenFromProcSelfFD()`, swift-corelibs-foundation PR #5472), and this suite starts
/// hundreds of processes beside gateways holding many descriptors. The child gets the given
/// descriptors as 0, 1 and 2 and no other descriptor of this process (closefrom 3).
final class ChildProcess: @unchecked Sendable {
    let processIdentifier: Int32
    private let lock = NSLock()
    private var exitStatus: Int32?

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    private static let closeFrom: CloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()

    init(
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
            throw HarnessError("posix_spawn \(executable): \(String(cString: strerror(result)))")
        }
        self.processIdentifier = pid
    }

    /// Reaps the child if it has exited (without waiting).
    var isRunning: Bool {
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

    func terminate() { kill(processIdentifier, SIGTERM) }

    func waitUntilExit() {
        lock.lock()
        defer { lock.unlock() }
        guard exitStatus == nil else { return }
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) < 0 && errno == EINTR {}
        exitStatus = status
    }

    /// The exit code, or the signal's number for a child a signal ended (as `Process` reports).
    var terminationStatus: Int32 {
        waitUntilExit()
        let status = lock.withLock { exitStatus ?? 0 }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    var terminationReason: Process.TerminationReason {
        waitUntilExit()
        let status = lock.withLock { exitStatus ?? 0 }
        return status & 0x7f == 0 ? .exit : .uncaughtSignal
    }
}

import ArgumentParser
import Foundation
import StateBackup

#if canImport(Glibc)
import Glibc
#endif

/// How a writing command (`user …`, `token …`, `audit append`) uses the state directory next to
/// whatever else runs on it (docs/operation.md, "One gateway per state directory").
///
/// These commands are built to run beside a live gateway: incident staff disable accounts and
/// revoke tokens while it serves, and each of their writes is one SQLite transaction plus an
/// audit append the gateway's log picks up. What they must not do beside anyone is crash
/// recovery (which reads another writer's half-done change as abandoned, and would complete,
/// drop or log it a second time) or creating state (a second set of keys and databases under a
/// gateway that is still opening them). So:
/// - alone (no process holds gateway.lock): the command takes it and writers.lock, runs recovery,
///   may create the directory's files, and holds both until it exits;
/// - beside a gateway: it holds writers.lock shared until it exits (the next gateway's recovery
///   waits for it), runs no recovery (the gateway ran it when it started) and creates nothing.
enum StateDirectoryAccess {
    enum Mode {
        case alone
        case besideGateway(StateDirectoryLock.Holder)

        /// Whether this command may run crash recovery and create state files.
        var isAlone: Bool {
            if case .alone = self { return true }
            return false
        }
    }

    /// Decides the mode for `stateDirectory` (creating the folder, mode 0700, when no one holds
    /// it and it is absent); the locks last until the process exits.
    static func forWriting(_ stateDirectory: String) throws(StateBackupError) -> Mode {
        if mkdir(stateDirectory, 0o700) != 0 && errno != EEXIST {
            throw StateBackupError(
                .storage,
                "--state-dir \(stateDirectory) cannot be created: \(String(cString: strerror(errno)))"
            )
        }
        switch try StateDirectoryLock.writerAccess(stateDirectory: stateDirectory, command: Self.commandName) {
        case .alone(let lock):
            lock.keepUntilExit()
            return .alone
        case .besideGateway(let holder):
            return .besideGateway(holder)
        }
    }

    /// ``forWriting(_:)`` for a command that ends on a refusal: one line on stderr, `command:`
    /// and the reason, then exit 1 when another process holds the directory, 3 when it cannot be
    /// created or locked.
    static func forWriting(_ stateDirectory: String, reportingAs command: String) throws -> Mode {
        do throws(StateBackupError) {
            return try Self.forWriting(stateDirectory)
        } catch {
            Console.err("\(command): \(error.reason)")
            throw ExitCode(error.code == .inUse ? 1 : 3)
        }
    }

    /// `medtunnel user add`, `medtunnel token revoke`, …: what the lock file says holds it.
    static var commandName: String {
        (["medtunnel"] + CommandLine.arguments.dropFirst().prefix { !$0.hasPrefix("-") }.prefix(2)).joined(
            separator: " "
        )
    }
}

import ArgumentParser
import AuditLog
import AuditPostgres
import Foundation

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify, inspect and prove the tamper-evident audit log.",
        subcommands: [
            Verify.self, Checkpoint.self, Prove.self, Show.self, Export.self, Append.self,
            AppendLoop.self, BulkAppend.self, BenchAppend.self, BenchSQLite.self, BenchProofs.self,
        ]
    )
}

/// Options every `audit` subcommand takes.
struct AuditLocation: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "The state directory (its audit log, checkpoint-key.pem).")
    var stateDirectory: String

    @Option(help: "The log's checkpoint origin and key name.")
    var origin: String = AuditLog.Configuration().origin

    var directory: AuditStateDirectory { AuditStateDirectory(path: self.stateDirectory) }

    /// Opens the log for writing (creating the state directory on first use).
    func openLog(checkpointInterval: UInt64 = 1024, maximumBatch: Int = 1024) async throws -> AuditLog {
        let configuration = AuditLog.Configuration(
            origin: self.origin,
            checkpointInterval: checkpointInterval,
            maximumBatch: maximumBatch
        )
        return try await AuditLog.open(stateDirectory: self.stateDirectory, configuration: configuration)
    }

    /// For the hidden test and benchmark tools: the log in the PostgreSQL `database` when given
    /// (migrated on open), its checkpoint key still from the state directory; else `openLog`.
    func openLog(database: String?, checkpointInterval: UInt64 = 1024) async throws -> AuditLog {
        guard let database else { return try await self.openLog(checkpointInterval: checkpointInterval) }
        return try await AuditLog(
            store: try await PostgresAuditStore(url: database),
            signer: try self.directory.signer(name: self.origin, create: true),
            configuration: AuditLog.Configuration(origin: self.origin, checkpointInterval: checkpointInterval)
        )
    }

    /// Opens the log for one administrative append: beside a running gateway it creates nothing
    /// (see `StateDirectoryAccess`); alone, it creates the state directory on first use.
    func openLogForWriting() async throws -> AuditLog {
        let mode = try StateDirectoryAccess.forWriting(self.stateDirectory, reportingAs: "audit")
        guard mode.isAlone else {
            return try await AuditLog.openExisting(
                stateDirectory: self.stateDirectory,
                configuration: AuditLog.Configuration(origin: self.origin)
            )
        }
        return try await self.openLog()
    }
}

/// Writes whole lines to stdout or stderr with one `write(2)` each: unbuffered, so a line printed
/// before the process is killed has reached the reader.
enum Console {
    static func out(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    static func err(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    static func json(_ object: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

extension AuditLogError {
    /// Ends the command with a one-line message naming what failed, and a non-zero status.
    var exit: ExitCode { self.exit(command: "audit") }

    /// As `exit`, the line starting with `command` (`db` for the database commands).
    func exit(command: String) -> ExitCode {
        Console.err("\(command): \(self.reason)")
        return ExitCode(self.code == .storageFailure || self.code == .logUnavailable ? 3 : 1)
    }
}

/// Runs `body`, reporting an `AuditLogError` as one line and a non-zero exit status.
func reportingAuditErrors(command: String = "audit", _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as AuditLogError {
        throw error.exit(command: command)
    }
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

import AuditLog
import Foundation
import MedTunnelTestSupport

/// Shared helpers: events, temporary directories, the built `medtunnel` binary and `sqlite3`.
enum TestSupport {
    static let origin = "medtunnel.local/audit"

    static func event(_ number: Int, pump: String? = "PUMP-1") -> AuditEvent {
        try! AuditEvent(
            timeMilliseconds: 1_763_700_000_000 + Int64(number),
            actor: try AuditActor(id: "clinician-\(number % 7)", role: "clinician"),
            kind: number % 3 == 0 ? .changeRequested : .commandSent,
            pumpSerial: pump,
            phoneID: number % 2 == 0 ? "PHONE-9" : nil,
            payload: Array(#"{"n":\#(number),"change":"temp_basal"}"#.utf8)
        )
    }

    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A log in memory with `count` entries.
    static func memoryLog(count: Int, checkpointInterval: UInt64 = 1024) async throws -> (AuditLog, InMemoryAuditStore)
    {
        let store = InMemoryAuditStore()
        let log = try await AuditLog(
            store: store,
            signer: try CheckpointSigner.generate(name: origin),
            configuration: .init(origin: origin, checkpointInterval: checkpointInterval)
        )
        for number in 0..<count { _ = try await log.append(self.event(number)) }
        return (log, store)
    }

    /// The built `medtunnel` executable: found by walking up from the test bundle to the build
    /// products directory that holds it.
    static let medtunnel: String = {
        var candidates = [URL(fileURLWithPath: CommandLine.arguments[0]), Bundle.main.bundleURL]
        candidates += Bundle.allBundles.map(\.bundleURL)
        for start in candidates {
            var directory = start.deletingLastPathComponent()
            for _ in 0..<6 {
                let binary = directory.appendingPathComponent("medtunnel").path
                if FileManager.default.isExecutableFile(atPath: binary) { return binary }
                directory = directory.deletingLastPathComponent()
            }
        }
        fatalError("medtunnel binary not found near \(CommandLine.arguments[0]); run swift build --build-tests first")
    }()

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs a program to completion and captures its output.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let output = try ChildProcess.run(executable, arguments)
        return Output(status: output.status, stdout: output.stdout, stderr: output.stderr)
    }

    static func audit(_ arguments: [String]) throws -> Output {
        try self.run(self.medtunnel, ["audit"] + arguments)
    }

    /// Runs SQL against a database with the sqlite3 command line tool, as an operator would.
    static func sqlite(_ database: String, _ sql: String) throws {
        let result = try self.run("/usr/bin/sqlite3", [database, sql])
        guard result.status == 0 else { throw AuditLogError(.storageFailure, "sqlite3: \(result.stderr)") }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}

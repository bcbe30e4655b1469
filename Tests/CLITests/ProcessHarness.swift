import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `medtunnel` binary (and other programs) as real processes.
enum ProcessHarness {
    /// The `medtunnel` executable beside the test bundle in the build products directory.
    static let medtunnel: String = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<6 {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("medtunnel").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/medtunnel"
        return fallback
    }()

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs to completion (killed after `timeout` seconds).
    static func run(
        _ executable: String,
        _ arguments: [String],
        timeout: Double = 60,
        environment: [String: String] = [:]
    ) throws -> Result {
        let output = try ChildProcess.run(executable, arguments, timeout: timeout, environment: environment)
        return Result(status: output.status, stdout: output.stdout, stderr: output.stderr)
    }

    static func medtunnel(
        _ arguments: [String],
        timeout: Double = 60,
        environment: [String: String] = [:]
    ) throws -> Result {
        try run(self.medtunnel, arguments, timeout: timeout, environment: environment)
    }
}

/// A background process whose output goes to files, stopped when the test ends.
final class BackgroundProcess {
    let process: ChildProcess
    let stdoutURL: URL
    let stderrURL: URL

    init(
        _ executable: String,
        _ arguments: [String],
        in directory: URL,
        name: String,
        environment: [String: String] = [:]
    ) throws {
        self.stdoutURL = directory.appendingPathComponent("\(name).out")
        self.stderrURL = directory.appendingPathComponent("\(name).err")
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let out = open(self.stdoutURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let err = open(self.stderrURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer {
            close(null)
            close(out)
            close(err)
        }
        self.process = try ChildProcess(
            executable: executable,
            arguments: arguments,
            environment: environment,
            stdin: null,
            stdout: out,
            stderr: err
        )
    }

    var stdout: String { (try? String(contentsOf: self.stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: self.stderrURL, encoding: .utf8)) ?? "" }

    /// Polls stdout until a line containing `marker` appears; returns that line.
    func waitForLine(containing marker: String, timeout: Double = 20) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = self.stdout.split(separator: "\n").first(where: { $0.contains(marker) }) {
                return String(line)
            }
            if !self.process.isRunning {
                throw HarnessError(
                    "process exited (\(self.process.terminationStatus)) before '\(marker)': \(self.stderr)"
                )
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("no '\(marker)' within \(timeout) s; stderr: \(self.stderr)")
    }

    func stop() {
        if self.process.isRunning { self.process.stop() }
    }

    deinit { self.stop() }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A temporary directory removed at the end of the test.
final class TemporaryDirectory {
    let url: URL
    init() throws {
        self.url = FileManager.default.temporaryDirectory.appendingPathComponent("medtunnel-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }
    var path: String { self.url.path }
    func sub(_ name: String) -> String { self.url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: self.url) }
}

import AuditLog
import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A child process appends in a loop and is killed with SIGKILL at random moments. Every append
/// it reported (printed after `append` returned) must be present after the restart, the log must
/// verify, and no half-written entry may exist. 200 kills by default; MEDTUNNEL_SOAK=1 runs 2,000.
/// On PostgreSQL the kill also cuts the connection mid-transaction: the server must roll back.
@Suite("Crash safety", .offThePool)
struct CrashSafetyTests {
    static let kills = ProcessInfo.processInfo.environment["MEDTUNNEL_SOAK"] == "1" ? 2000 : 200

    @Test("SIGKILL at random moments never loses a reported append", arguments: Backend.allCases)
    func killLoop(backend: Backend) async throws {
        let database = try backend.makeDatabase()
        let state = database.stateDirectory
        let databaseArguments = database.postgresURL.map { ["--database", $0] } ?? []
        var generator = SystemRandomNumberGenerator()
        var reportedMax: Int64 = -1
        var reportedTotal = 0
        var roundsWithAppends = 0
        for round in 0..<Self.kills {
            let (process, output) = try ChildProcess.withPipedOutput(
                TestSupport.medtunnel,
                ["audit", "append-loop", "--state-dir", state, "--callers", "4", "--checkpoint-interval", "16"]
                    + databaseArguments
            )
            defer { close(output) }
            func readChunk() -> [UInt8] {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = read(output, &buffer, buffer.count)
                return count > 0 ? Array(buffer[0..<count]) : []
            }
            // Even rounds kill at a random moment from the start (opening and recovery included);
            // odd rounds once the child has reported an append (mid-stream on a loaded machine too).
            var data = Data()
            if round % 2 == 1 {
                while !data.contains(UInt8(ascii: "\n")) {
                    let chunk = readChunk()
                    if chunk.isEmpty { break }
                    data.append(contentsOf: chunk)
                }
                usleep(UInt32.random(in: 0...20_000, using: &generator))
            } else {
                usleep(UInt32.random(in: 5_000...90_000, using: &generator))
            }
            kill(process.processIdentifier, SIGKILL)
            while true {
                let chunk = readChunk()
                if chunk.isEmpty { break }
                data.append(contentsOf: chunk)
            }
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): the child exited by itself")

            // Only complete lines count: a line cut by the kill was not reported.
            let text = String(decoding: data, as: UTF8.self)
            let lines = text.hasSuffix("\n") ? text.split(separator: "\n") : text.split(separator: "\n").dropLast()
            let indices = lines.compactMap { Int64($0) }
            reportedTotal += indices.count
            if !indices.isEmpty { roundsWithAppends += 1 }
            reportedMax = max(reportedMax, indices.max() ?? -1)

            if backend == .sqlite && !FileManager.default.fileExists(atPath: database.sqlitePath) { continue }
            if backend == .postgres && !FileManager.default.fileExists(atPath: "\(state)/checkpoint-key.pem") {
                continue  // killed before it made its key: nothing can have been appended
            }
            let store = try await database.openStore()
            let size = try await store.size()
            #expect(
                Int64(size) > reportedMax,
                "round \(round): index \(reportedMax) was reported but the log has \(size)"
            )
            if round % 40 == 39 || round == Self.kills - 1 {
                try await Self.verify(store: store, state: state)
            }
        }
        // Every odd round was killed after its child reported an append.
        #expect(
            roundsWithAppends >= Self.kills / 2,
            "only \(roundsWithAppends) of \(Self.kills) children appended (\(reportedTotal) appends)"
        )
    }

    static func verify(store: any AuditStore, state: String) async throws {
        let verifier = try AuditStateDirectory(path: state).signer(name: TestSupport.origin, create: false).verifier
        let report = try await LogVerifier.verify(store: store, verifier: verifier, origin: TestSupport.origin)
        #expect(report.size == (try await store.size()))
    }
}

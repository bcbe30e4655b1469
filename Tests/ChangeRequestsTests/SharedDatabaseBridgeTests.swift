import AuditPostgres
import Dispatch
import Foundation
import MedTunnelTestSupport
import StoresPostgres
import Testing

/// The shared database blocks the store's own thread while a statement runs. Its answer must not
/// need a thread of the cooperative pool: on a busy gateway (or a test run) every pool thread may
/// be blocked for a moment, and a transaction left waiting meanwhile is ended by the server as
/// idle, failing the step with `database_unavailable` instead of its real outcome.
@Suite("shared database: statements from a blocking caller")
struct SharedDatabaseBridgeTests {
    @Test("a transaction completes while every cooperative thread is blocked")
    func answersWithThePoolBlocked() async throws {
        let url = try PostgresTestServer.newDatabase()
        _ = try await PostgresAuditStore(url: url)
        nonisolated(unsafe) let database = try await PostgresSharedDatabase.connect(url: url)

        // This test's own thread is one of the pool's; the others are taken by tasks that wait
        // until released. Everything below runs without suspending, so the pool stays blocked.
        let width = max(ProcessInfo.processInfo.activeProcessorCount, 1)
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        for _ in 0..<(width - 1) {
            Task.detached {
                started.signal()
                release.wait()
            }
        }
        defer { for _ in 0..<(width - 1) { release.signal() } }
        for _ in 0..<(width - 1) {
            try #require(started.wait(timeout: .now() + 60) == .success, "a pool thread never came free")
        }

        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<Int64, any Error>?
        let worker = Thread {
            outcome = Result {
                try database.writeTransaction {
                    try database.execute("CREATE TEMPORARY TABLE probe(n bigint)")
                    let insert = try database.prepare("INSERT INTO probe(n) VALUES (?)")
                    for n in 1...20 {
                        try insert.bind(Int64(n), at: 1)
                        try insert.run()
                        insert.reset()
                    }
                    let sum = try database.prepare("SELECT sum(n)::bigint FROM probe")
                    _ = try sum.step()
                    return sum.int64(0)
                }
            }
            finished.signal()
        }
        worker.start()
        let answered = finished.wait(timeout: .now() + 20) == .success
        #expect(answered, "the transaction waited for a cooperative thread")
        if answered {
            #expect(try outcome?.get() == 210)
        }
    }
}

import AuditLog
import AuditPostgres
import Dispatch
import Foundation
import MedTunnelTestSupport
import StoresPostgres
import Testing

/// A PostgreSQL transaction must never need a thread of the cooperative pool to go on: on a busy
/// gateway (or a test run) every pool thread may be blocked for a moment, and a transaction left
/// waiting meanwhile is ended by the server as idle (2 s), failing the step with
/// `database_unavailable` instead of its real outcome. The shared database blocks the store's own
/// thread while a statement runs; the audit store runs on a thread of its own.
@Suite("PostgreSQL transactions while every cooperative thread is blocked")
struct SharedDatabaseBridgeTests {
    @Test("a transaction completes while every cooperative thread is blocked")
    func answersWithThePoolBlocked() async throws {
        let url = try await PostgresTestServer.newDatabase()
        _ = try await PostgresAuditStore(url: url)
        nonisolated(unsafe) let database = try await PostgresSharedDatabase.connect(url: url)

        // This test's own thread is one of the pool's; the others are taken by tasks that wait
        // until released. Everything below runs without suspending, so the pool stays blocked.
        let blockers = Self.occupyThePoolButOne()
        defer { blockers.release() }
        try #require(blockers.started(within: 60) == blockers.count, "a pool thread never came free")

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

    @Test("the audit store's append at the tip commits while every cooperative thread is blocked mid-transaction")
    func auditAppendWithThePoolBlocked() async throws {
        let url = try await PostgresTestServer.newDatabase()
        let store = try await PostgresAuditStore(url: url)
        let inBuild = DispatchSemaphore(value: 0)
        let poolBlocked = DispatchSemaphore(value: 0)
        let append = Task.detached {
            try await store.appendAtTip { tip in
                // The head row is locked and the transaction open: wait here until the pool is.
                inBuild.signal()
                poolBlocked.wait()
                let entry = StoredEntry(
                    index: tip.size,
                    body: Array("probe".utf8),
                    leafHash: [UInt8](repeating: 7, count: 32)
                )
                return (AuditBatch(firstIndex: tip.size, entries: [entry], nodes: [], checkpoint: nil), tip.size)
            }
        }
        try #require(inBuild.wait(timeout: .now() + 30) == .success, "the append never reached its build")

        // This test's thread is one of the pool's; the others are taken by tasks that wait until
        // released (were `build` itself on the pool, fewer come free: the pool is then full anyway).
        let blockers = Self.occupyThePoolButOne()
        _ = blockers.started(within: 2)
        poolBlocked.signal()
        // Longer than the server lets a transaction sit idle: the append's statements and its
        // commit must go on meanwhile without a pool thread.
        usleep(4_000_000)
        blockers.release()

        let index = try await append.value
        #expect(index == 0)
        #expect(try await store.size() == 1)
    }

    /// Tasks on every cooperative thread but the caller's, each waiting until released.
    struct Blockers {
        let count: Int
        let startedSignal = DispatchSemaphore(value: 0)
        let releaseSignal = DispatchSemaphore(value: 0)

        /// How many took a thread within `seconds` (each waited for in turn).
        func started(within seconds: Double) -> Int {
            (0..<self.count).filter { _ in self.startedSignal.wait(timeout: .now() + seconds) == .success }.count
        }

        func release() {
            for _ in 0..<self.count { self.releaseSignal.signal() }
        }
    }

    static func occupyThePoolButOne() -> Blockers {
        let blockers = Blockers(count: max(ProcessInfo.processInfo.activeProcessorCount, 1) - 1)
        for _ in 0..<blockers.count {
            Task.detached {
                blockers.startedSignal.signal()
                blockers.releaseSignal.wait()
            }
        }
        return blockers
    }
}

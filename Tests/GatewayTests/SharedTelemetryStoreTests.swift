import AuditLog
import Foundation
import MedTunnelTestSupport
import StoresPostgres
import Synchronization
import TelemetryStore
import Testing

/// The telemetry store shared by gateway nodes: two stores on one PostgreSQL database, as two
/// processes would have them, one of them reaching it through a proxy the test cuts.
@Suite("Shared telemetry store (PostgreSQL, several nodes)")
struct SharedTelemetryStoreTests {
    typealias Home = TelemetryStoreTests.Home

    @Test("telemetry written by node A is read by node B: records, count, pumps; and B's writes by A")
    func twoNodes() async throws {
        let home = try await Home.make(.postgres)
        let a = try await home.open()
        let b = try await home.open()
        defer {
            a.close()
            b.close()
        }
        try a.submit(TelemetryStoreTests.pump("P1", sessions: 3))
        for sequence in UInt64(1)...4 { try a.submit(TelemetryStoreTests.record("P1", sequence)) }
        try await a.flush()

        #expect(try await b.telemetry(serial: "P1", limit: 3).map(\.telemetry.sequence) == [4, 3, 2])
        #expect(try await b.telemetryCount(serial: "P1") == 4)
        let pumps = try await b.storedPumps()
        #expect(pumps.map(\.pump.serial) == ["P1"])
        #expect(pumps.first?.pump.sessions == 3)
        #expect(pumps.first?.latestTelemetry?.telemetry == TelemetryStoreTests.telemetry(4))

        // The pump's session moved to B: B writes, A reads; a resend already stored on A is a
        // duplicate on B too.
        try b.submit(TelemetryStoreTests.record("P1", 4))
        try b.submit(TelemetryStoreTests.record("P1", 5))
        try await b.flush()
        #expect(b.statistics.telemetryDuplicates == 1 && b.statistics.telemetryInserted == 1)
        #expect(try await a.telemetryCount(serial: "P1") == 5)
        #expect(try await a.telemetry(serial: "P1", limit: 1).first?.telemetry.sequence == 5)
        // A store opened later starts from every node's pumps.
        let c = try await home.open()
        defer { c.close() }
        #expect(c.initialPumps.first?.telemetryCount == 5)
    }

    @Test(
        "telemetry submitted while the database is unreachable is held (bounded), then written once it answers; completions run only then"
    )
    func unreachableThenBack() async throws {
        let home = try await Home.make(.postgres, proxied: true)
        let writer = try await home.open(queueLimit: 8)
        defer { writer.close() }
        try writer.submit(TelemetryStoreTests.pump("P1"))
        try await writer.flush()

        try await #require(home.proxy).cut()
        let succeeded = Mutex(0)
        let failed = Mutex<[TelemetryStoreError]>([])
        for sequence in UInt64(1)...5 {
            try writer.submit(TelemetryStoreTests.record("P1", sequence)) { result in
                switch result {
                case .success: succeeded.withLock { $0 += 1 }
                case .failure(let error): failed.withLock { $0.append(error) }
                }
            }
        }
        // The writer tries again and again, waiting between tries, and stays healthy.
        try await Self.eventually("the writer retried") { writer.statistics.unavailableRetries >= 2 }
        #expect(succeeded.withLock { $0 } == 0)
        #expect(failed.withLock { $0 }.isEmpty)
        #expect(writer.failure == nil)
        #expect(try home.rowCount() == 0)
        let retries = writer.statistics.unavailableRetries
        try await Task.sleep(for: .milliseconds(500))
        // At most one try per retry delay (100 ms) and connect throttle: no spinning.
        #expect(writer.statistics.unavailableRetries - retries <= 8, "\(writer.statistics)")

        // Bounded: 8 writes may wait (the held batch counted); the ninth is refused, counted.
        var refused: TelemetryStoreError?
        for sequence in UInt64(6)...9 {
            do { try writer.submit(TelemetryStoreTests.record("P1", sequence)) } catch { refused = error }
        }
        #expect(refused == TelemetryStoreError(.queueFull, ""))
        #expect(writer.statistics.refusedQueueFull == 1)

        try await #require(home.proxy).restore()
        try await Self.eventually("the held writes were written", seconds: 15) { (try? home.rowCount()) == 8 }
        try await Self.eventually("their completions ran") { succeeded.withLock { $0 } == 5 }
        #expect(failed.withLock { $0 }.isEmpty)
        try await writer.flush()
        #expect(writer.failure == nil)
        #expect(
            try await writer.telemetry(serial: "P1", limit: 10).map(\.telemetry.sequence) == [8, 7, 6, 5, 4, 3, 2, 1]
        )
    }

    @Test("a store closed while the database is still unreachable fails what it holds (databaseUnavailable), counted")
    func closedWhileUnreachable() async throws {
        let home = try await Home.make(.postgres, proxied: true)
        let writer = try await home.open()
        try await #require(home.proxy).cut()
        let outcome = Mutex<Result<Void, TelemetryStoreError>?>(nil)
        try writer.submit(TelemetryStoreTests.record("P1", 1)) { result in outcome.withLock { $0 = result } }
        try await Self.eventually("the writer retried") { writer.statistics.unavailableRetries >= 1 }
        // Queued behind the held batch: failed with it, without a try of its own.
        let queued = Mutex<Result<Void, TelemetryStoreError>?>(nil)
        try writer.submit(TelemetryStoreTests.record("P1", 2)) { result in queued.withLock { $0 = result } }
        let started = ContinuousClock.now
        writer.close()
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(throws: TelemetryStoreError(.databaseUnavailable, "")) { try outcome.withLock { $0 }?.get() }
        #expect(throws: TelemetryStoreError(.databaseUnavailable, "")) { try queued.withLock { $0 }?.get() }
        #expect(writer.statistics.unwrittenAtClose == 2)
        #expect(throws: TelemetryStoreError(.closed, "")) { try writer.submit(TelemetryStoreTests.record("P1", 3)) }
    }

    @Test("a bound state directory opens the shared store through the installed factory, and without one is refused")
    func forStateDirectory() async throws {
        let home = try await Home.make(.postgres)
        let url = try #require(home.url)
        try AuditStateDirectory(path: home.directory.path).bind(to: url)
        // No factory installed in this test process: refused, never gateway.sqlite.
        if TelemetryStoreFactories.shared == nil {
            let refusal = await #expect(throws: TelemetryStoreError(.storageFailed, "")) {
                try await TelemetryStore.forStateDirectory(home.directory.path)
            }
            #expect(refusal?.reason.contains("cannot open telemetry stores") == true)
        }
        TelemetryStoreFactories.shared = { url in try await PostgresSharedDatabase.telemetryStore(url: url) }
        let store = try await TelemetryStore.forStateDirectory(home.directory.path)
        defer { store.close() }
        try store.submit(TelemetryStoreTests.record("P7", 1))
        try await store.flush()
        #expect(try home.rowCount() == 1)
        #expect(!FileManager.default.fileExists(atPath: home.directory.database))
    }

    static func eventually(
        _ what: String,
        seconds: Int = 10,
        _ condition: @Sendable () throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("not within \(seconds) s: \(what)")
    }
}

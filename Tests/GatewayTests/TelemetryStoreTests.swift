import Foundation
import Gateway
import SQLiteStore
import Synchronization
import TelemetryStore
import Testing
import TunnelProtocol

/// The telemetry store on real SQLite files in a temporary directory.
@Suite("Telemetry store")
struct TelemetryStoreTests {
    final class Directory: Sendable {
        let path: String
        init() throws {
            self.path =
                FileManager.default.temporaryDirectory
                .appendingPathComponent("medtunnel-store-test-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
        }
        var database: String { self.path + "/" + TelemetryStore.fileName }
        deinit { try? FileManager.default.removeItem(atPath: self.path) }
    }

    static func telemetry(_ sequence: UInt64) -> InnerMessage.Telemetry {
        InnerMessage.Telemetry(
            sequence: sequence,
            timeMilliseconds: Int64(sequence) * 1_000,
            reservoirMilliunits: 100_000 - UInt32(sequence),
            basalRateMilliunitsPerHour: 900,
            glucoseMgPerDL: 110,
            batteryPercent: 70,
            flags: [.occlusion]
        )
    }

    static func record(_ serial: String, _ sequence: UInt64) -> TelemetryWrite {
        .telemetry(
            TelemetryRecord(
                serial: serial,
                telemetry: Self.telemetry(sequence),
                receivedMilliseconds: 5_000 + Int64(sequence),
                carrier: "phone PHONE-1"
            )
        )
    }

    static func pump(_ serial: String, sessions: Int = 1) -> TelemetryWrite {
        .pump(
            PumpRecord(
                serial: serial,
                firmware: "fw-9",
                lastSeenMilliseconds: 4_000,
                carrier: "phone PHONE-1",
                sessions: sessions,
                resumedSessions: 0
            )
        )
    }

    @Test("the database is WAL with synchronous=FULL, and what was written is there after reopening")
    func durableAcrossReopen() async throws {
        let directory = try Directory()
        let store = try TelemetryStore(directory: directory.path)
        try store.submit(Self.pump("P1", sessions: 2))
        for sequence in UInt64(1)...5 { try store.submit(Self.record("P1", sequence)) }
        try await store.flush()
        #expect(try store.telemetryCount(serial: "P1") == 5)
        store.close()

        let check = try SQLiteConnection(path: directory.database, create: false, readOnly: true)
        #expect(try check.pragma("journal_mode") == "wal")

        let reopened = try TelemetryStore(directory: directory.path)
        defer { reopened.close() }
        let stored = try #require(reopened.initialPumps.first)
        #expect(reopened.initialPumps.count == 1)
        #expect(stored.pump.serial == "P1")
        #expect(stored.pump.firmware == "fw-9")
        #expect(stored.pump.sessions == 2)
        #expect(stored.telemetryCount == 5)
        #expect(stored.latestTelemetry?.telemetry == Self.telemetry(5))
        #expect(stored.latestTelemetry?.receivedMilliseconds == 5_005)
        #expect(stored.latestTelemetry?.carrier == "phone PHONE-1")
        #expect(try reopened.telemetry(serial: "P1", limit: 2).map(\.telemetry.sequence) == [5, 4])
    }

    @Test("a sequence already stored is not stored again, also after a restart")
    func oncePerSequenceAcrossRestart() async throws {
        let directory = try Directory()
        let store = try TelemetryStore(directory: directory.path)
        try store.submit(Self.pump("P1"))
        for sequence in UInt64(1)...3 { try store.submit(Self.record("P1", sequence)) }
        try await store.flush()
        store.close()

        let reopened = try TelemetryStore(directory: directory.path)
        defer { reopened.close() }
        try reopened.submit(Self.record("P1", 3))
        try reopened.submit(Self.record("P1", 2))
        try reopened.submit(Self.record("P1", 4))
        try await reopened.flush()
        #expect(try reopened.telemetryCount(serial: "P1") == 4)
        #expect(reopened.statistics.telemetryDuplicates == 2)
        #expect(reopened.statistics.telemetryInserted == 1)
    }

    @Test("a write's completion runs after its commit: another connection already sees the row")
    func completionAfterCommit() async throws {
        let directory = try Directory()
        let store = try TelemetryStore(directory: directory.path)
        defer { store.close() }
        try store.submit(Self.pump("P1"))
        let seenCount = Mutex<Int?>(nil)
        let succeeded = Mutex(false)
        let path = directory.database
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            do throws(TelemetryStoreError) {
                try store.submit(Self.record("P1", 1)) { result in
                    let count: Int? = try? Self.rowCount(path)
                    seenCount.withLock { $0 = count }
                    if case .success = result { succeeded.withLock { $0 = true } }
                    continuation.resume()
                }
            } catch {
                Issue.record("submit failed: \(error)")
                continuation.resume()
            }
        }
        #expect(seenCount.withLock { $0 } == 1)
        #expect(succeeded.withLock { $0 })
    }

    /// Telemetry rows, read through a connection of its own.
    static func rowCount(_ path: String) throws -> Int {
        let reader = try SQLiteConnection(path: path, create: false, readOnly: true)
        let statement = try reader.prepare("SELECT count(*) FROM telemetry")
        _ = try statement.step()
        return Int(statement.int64(0))
    }

    @Test("a full queue refuses writes with queueFull instead of growing")
    func boundedQueue() async throws {
        let directory = try Directory()
        let store = try TelemetryStore(directory: directory.path, queueLimit: 1)
        defer { store.close() }
        // Another connection holds the write lock, so the writer waits on its first batch.
        let blocker = try SQLiteConnection(path: directory.database)
        try blocker.execute("BEGIN IMMEDIATE")
        try store.submit(Self.pump("P1"))
        var refused: TelemetryStoreError?
        for sequence in UInt64(1)...2 {
            do { try store.submit(Self.record("P1", sequence)) } catch { refused = error }
        }
        #expect(refused?.code == .queueFull)
        #expect(store.statistics.refusedQueueFull >= 1)
        try blocker.execute("COMMIT")
        // The writer retries its lock (busy timeout); until its batch is in, the queue may be full.
        var flushed = false
        var lastError: TelemetryStoreError?
        for _ in 0..<250 where !flushed {
            do throws(TelemetryStoreError) {
                try await store.flush()
                flushed = true
            } catch {
                lastError = error
            }
            if !flushed { try? await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(flushed, "\(String(describing: lastError))")
        #expect(store.failure == nil)
        #expect(try store.storedPumps().map(\.pump.serial) == ["P1"])
    }

    @Test("a closed store refuses writes (closed)")
    func closedStore() throws {
        let directory = try Directory()
        let store = try TelemetryStore(directory: directory.path)
        store.close()
        var refusal: TelemetryStoreError?
        do {
            try store.submit(Self.pump("P1"))
        } catch {
            refusal = error
        }
        #expect(refusal?.code == .closed)
    }

    @Test("a registry on a reopened store starts from it: pumps, counts, latest telemetry; resends are duplicates")
    func registryAcrossRestart() async throws {
        let directory = try Directory()
        do {
            let store = try TelemetryStore(directory: directory.path)
            let registry = PumpRegistry(store: store)
            let session = registry.sessionStarted(serial: "P1", resumed: false, now: 10, carrier: "phone PHONE-1")
            registry.hello(serial: "P1", firmware: "fw-2", now: 11)
            for sequence in UInt64(1)...4 {
                #expect(registry.storeTelemetry(serial: "P1", Self.telemetry(sequence), now: 20 + Int64(sequence)))
            }
            registry.sessionEnded(serial: "P1", session: session, now: 30)
            try await store.flush()
            store.close()
        }
        let store = try TelemetryStore(directory: directory.path)
        defer { store.close() }
        let registry = PumpRegistry(store: store)
        let pump = try #require(registry.pump("P1"))
        #expect(!pump.connected)
        #expect(pump.firmware == "fw-2")
        #expect(pump.sessions == 1)
        #expect(pump.carrier == "phone PHONE-1")
        #expect(pump.telemetryStored == 4)
        #expect(pump.lastTelemetry?.sequence == 4)
        #expect(pump.lastSeenMilliseconds == 30)

        registry.sessionStarted(serial: "P1", resumed: true, now: 40, carrier: "phone PHONE-1")
        let durable = Mutex(0)
        let resent = registry.acceptTelemetry(serial: "P1", Self.telemetry(4), now: 41, carrier: nil) { _ in
            durable.withLock { $0 += 1 }
        }
        let next = registry.acceptTelemetry(serial: "P1", Self.telemetry(5), now: 42, carrier: nil) { _ in
            durable.withLock { $0 += 1 }
        }
        #expect(resent == .duplicate)
        #expect(next == .stored)
        try await store.flush()
        #expect(durable.withLock { $0 } == 2)
        #expect(try store.telemetryCount(serial: "P1") == 5)
        let after = try #require(registry.pump("P1"))
        #expect(after.sessions == 2)
        #expect(after.resumedSessions == 1)
    }
}

import AuditPostgres
import Foundation
import Gateway
import MedTunnelTestSupport
import SQLiteStore
import StoresPostgres
import Synchronization
import TelemetryStore
import Testing
import TunnelProtocol

/// Where the telemetry suites run: `@Test(arguments: TelemetryBackend.allCases)`.
enum TelemetryBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// `gateway.sqlite` in a temporary state directory (one gateway).
    case sqlite
    /// The telemetry tables of a PostgreSQL database of the test's own (several gateway nodes).
    case postgres

    var testDescription: String { "on \(self.rawValue)" }
}

/// The telemetry store on real SQLite files in a temporary directory, or on a real PostgreSQL
/// database (migrated to this binary's schema), reached straight or through a proxy the test
/// can cut.
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

    /// One store's home: a directory, or a database (with a proxy in front when asked).
    final class Home: Sendable {
        let backend: TelemetryBackend
        let directory: Directory
        /// The database as the test reads it, straight (postgres only).
        let url: String?
        /// The database as the store reaches it: through `proxy` when there is one.
        let storeURL: String?
        let proxy: TCPCutProxy?

        private init(_ backend: TelemetryBackend, url: String?, proxy: TCPCutProxy?) throws {
            self.backend = backend
            self.directory = try Directory()
            self.url = url
            self.proxy = proxy
            if let url, let proxy, let port = URL(string: url)?.port {
                self.storeURL = url.replacingOccurrences(of: ":\(port)/", with: ":\(proxy.port)/")
            } else {
                self.storeURL = url
            }
        }

        static func make(_ backend: TelemetryBackend, proxied: Bool = false) async throws -> Home {
            guard backend == .postgres else { return try Home(backend, url: nil, proxy: nil) }
            let url = try await PostgresTestServer.newDatabase()
            _ = try await PostgresAuditStore.migrate(url: url)
            let port = try #require(URL(string: url)?.port)
            return try Home(backend, url: url, proxy: proxied ? try await TCPCutProxy.start(targetPort: port) : nil)
        }

        /// A store on this home: a first open, a reopen after a restart, or another node's.
        func open(queueLimit: Int = TelemetryStore.defaultQueueLimit) async throws -> TelemetryStore {
            switch self.backend {
            case .sqlite:
                return try TelemetryStore(directory: self.directory.path, queueLimit: queueLimit)
            case .postgres:
                return try await PostgresSharedDatabase.telemetryStore(
                    url: try #require(self.storeURL),
                    queueLimit: queueLimit,
                    retryDelay: .milliseconds(100)
                )
            }
        }

        /// Telemetry rows, read as an operator would, apart from the store.
        func rowCount() throws -> Int {
            if let url {
                let printed = try PostgresTestServer.sql(url, "SELECT count(*) FROM telemetry")
                return Int(printed.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            }
            let reader = try SQLiteConnection(path: self.directory.database, create: false, readOnly: true)
            let statement = try reader.prepare("SELECT count(*) FROM telemetry")
            _ = try statement.step()
            return Int(statement.int64(0))
        }
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

    @Test(
        "what was written is there after reopening (on SQLite: WAL with synchronous=FULL)",
        arguments: TelemetryBackend.allCases
    )
    func durableAcrossReopen(_ backend: TelemetryBackend) async throws {
        let home = try await Home.make(backend)
        let store = try await home.open()
        try store.submit(Self.pump("P1", sessions: 2))
        for sequence in UInt64(1)...5 { try store.submit(Self.record("P1", sequence)) }
        try await store.flush()
        #expect(try await store.telemetryCount(serial: "P1") == 5)
        store.close()

        if backend == .sqlite {
            let check = try SQLiteConnection(path: home.directory.database, create: false, readOnly: true)
            #expect(try check.pragma("journal_mode") == "wal")
        }

        let reopened = try await home.open()
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
        #expect(try await reopened.telemetry(serial: "P1", limit: 2).map(\.telemetry.sequence) == [5, 4])
    }

    @Test(
        "pump summaries: every pump with its telemetry count in one read, or one pump by serial; an unknown one is none",
        arguments: TelemetryBackend.allCases
    )
    func pumpSummaries(_ backend: TelemetryBackend) async throws {
        let home = try await Home.make(backend)
        let store = try await home.open()
        defer { store.close() }
        try store.submit(Self.pump("P2", sessions: 3))
        try store.submit(Self.pump("P1"))
        for sequence in UInt64(1)...4 { try store.submit(Self.record("P1", sequence)) }
        try await store.flush()
        let all = try await store.pumpSummaries()
        #expect(all.map(\.pump.serial) == ["P1", "P2"])
        #expect(all.map(\.telemetryCount) == [4, 0])
        #expect(all.allSatisfy { $0.latestTelemetry == nil }, "the newest record is not read")
        let one = try #require(try await store.pumpSummaries(serial: "P2").first)
        #expect(one.pump.sessions == 3 && one.pump.firmware == "fw-9")
        #expect(try await store.pumpSummaries(serial: "P9").isEmpty)
        #expect(store.isShared == (backend == .postgres))
    }

    @Test("a sequence already stored is not stored again, also after a restart", arguments: TelemetryBackend.allCases)
    func oncePerSequenceAcrossRestart(_ backend: TelemetryBackend) async throws {
        let home = try await Home.make(backend)
        let store = try await home.open()
        try store.submit(Self.pump("P1"))
        for sequence in UInt64(1)...3 { try store.submit(Self.record("P1", sequence)) }
        try await store.flush()
        store.close()

        let reopened = try await home.open()
        defer { reopened.close() }
        try reopened.submit(Self.record("P1", 3))
        try reopened.submit(Self.record("P1", 2))
        try reopened.submit(Self.record("P1", 4))
        try await reopened.flush()
        #expect(try await reopened.telemetryCount(serial: "P1") == 4)
        #expect(reopened.statistics.telemetryDuplicates == 2)
        #expect(reopened.statistics.telemetryInserted == 1)
    }

    @Test(
        "a write's completion runs after its commit: another connection already sees the row",
        arguments: TelemetryBackend.allCases
    )
    func completionAfterCommit(_ backend: TelemetryBackend) async throws {
        let home = try await Home.make(backend)
        let store = try await home.open()
        defer { store.close() }
        try store.submit(Self.pump("P1"))
        let seenCount = Mutex<Int?>(nil)
        let succeeded = Mutex(false)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            do throws(TelemetryStoreError) {
                try store.submit(Self.record("P1", 1)) { result in
                    let count: Int? = try? home.rowCount()
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

    @Test(
        "a full queue refuses writes with queueFull instead of growing (the writer held up: a lock on SQLite, the database cut on PostgreSQL)",
        arguments: TelemetryBackend.allCases
    )
    func boundedQueue(_ backend: TelemetryBackend) async throws {
        let home = try await Home.make(backend, proxied: true)
        let store = try await home.open(queueLimit: 1)
        defer { store.close() }
        // The writer waits on its first batch: another connection holds SQLite's write lock, or
        // PostgreSQL cannot be reached.
        var blocker: SQLiteConnection?
        if backend == .sqlite {
            blocker = try SQLiteConnection(path: home.directory.database)
            try blocker?.execute("BEGIN IMMEDIATE")
        }
        await home.proxy?.cut()
        try store.submit(Self.pump("P1"))
        var refused: TelemetryStoreError?
        for sequence in UInt64(1)...2 {
            do { try store.submit(Self.record("P1", sequence)) } catch { refused = error }
        }
        #expect(refused?.code == .queueFull)
        #expect(store.statistics.refusedQueueFull >= 1)
        try blocker?.execute("COMMIT")
        await home.proxy?.restore()
        // The writer retries its lock (busy timeout) or the database; until its batch is in, the
        // queue may be full.
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
        #expect(try await store.storedPumps().map(\.pump.serial) == ["P1"])
    }

    @Test("reads from async code while the database does not answer hold none of the cooperative pool's threads")
    func readsWaitOffThePool() async throws {
        let home = try await Home.make(.postgres, proxied: true)
        let store = try await home.open()
        defer { store.close() }
        try store.submit(Self.pump("P1"))
        try await store.flush()
        // Each read now waits for its statement bound (5 s); twice as many as the pool has threads.
        await home.proxy?.blackhole()
        let clock = ContinuousClock()
        let start = clock.now
        let reads = (0..<(2 * ProcessInfo.processInfo.activeProcessorCount)).map { _ in
            Task.detached { try? await store.storedPumps() }
        }
        // Then this task and another of the pool's: both run well before the first read's bound.
        try await Task.sleep(for: .milliseconds(200))
        await Task.detached {}.value
        let waited = clock.now - start
        #expect(waited < .seconds(3), "the pool's tasks waited \(waited) behind the reads")
        await home.proxy?.restore()
        for read in reads { _ = await read.value }
        // Calls fail at once for a second after a failed connect; then the store reads again.
        var after: [String]?
        for _ in 0..<100 where after == nil {
            after = try? await store.storedPumps().map(\.pump.serial)
            if after == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(after == ["P1"], "no read succeeded within 10 s of the database answering again")
    }

    @Test("a closed store refuses writes (closed)", arguments: TelemetryBackend.allCases)
    func closedStore(_ backend: TelemetryBackend) async throws {
        let home = try await Home.make(backend)
        let store = try await home.open()
        store.close()
        var refusal: TelemetryStoreError?
        do {
            try store.submit(Self.pump("P1"))
        } catch {
            refusal = error
        }
        #expect(refusal?.code == .closed)
    }

    @Test(
        "a registry on a reopened store starts from it: pumps, counts, latest telemetry; resends are duplicates",
        arguments: TelemetryBackend.allCases
    )
    func registryAcrossRestart(_ backend: TelemetryBackend) async throws {
        let home = try await Home.make(backend)
        do {
            let store = try await home.open()
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
        let store = try await home.open()
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
        #expect(try await store.telemetryCount(serial: "P1") == 5)
        let after = try #require(registry.pump("P1"))
        #expect(after.sessions == 2)
        #expect(after.resumedSessions == 1)
    }
}

import AuditLog
import Foundation
import SQLiteStore

/// The store's writer: one dedicated thread that owns the write connection, takes everything
/// queued (at most ``TelemetryStore/maximumBatch`` writes), commits it in one transaction (one
/// fsync with `synchronous=FULL`) and then runs the writes' completions. Event loops only
/// append to a bounded queue, so an fsync never blocks them.
///
/// On a shared database that does not answer (`AuditLogError.databaseUnavailable`), the batch is
/// held and tried again every `retryDelay` (a wait, not a spin); it counts against the queue's
/// bound meanwhile, so what waits in memory stays bounded. A store closed while the database is
/// still away fails what it holds (`databaseUnavailable`) rather than waiting forever.
final class TelemetryWriter: @unchecked Sendable {
    typealias Completion = @Sendable (Result<Void, TelemetryStoreError>) -> Void

    // `condition` guards everything below it.
    private let condition = NSCondition()
    private var queue: [(TelemetryWrite, Completion?)] = []
    private var stopping = false
    private var finished = false
    /// Sticky: after a failed commit every write is refused until the store is reopened.
    private var failure: TelemetryStoreError?
    private var stats = TelemetryStoreStatistics()
    /// Writes of the batch held while the database does not answer (0 otherwise).
    private var held = 0
    /// Set when a closing store gave up on a batch because the database did not answer: what is
    /// still queued fails with it.
    private var abandoned: TelemetryStoreError?

    private let tables: TelemetryTables
    private let limit: Int
    private let maximumBatch: Int
    private let retryDelay: Duration

    init(tables: TelemetryTables, limit: Int, maximumBatch: Int, retryDelay: Duration = .seconds(1)) {
        self.tables = tables
        self.limit = limit
        self.maximumBatch = maximumBatch
        self.retryDelay = retryDelay
        let thread = Thread { [self] in self.run() }
        thread.name = "medtunnel.telemetry-writer"
        thread.start()
    }

    func submit(_ write: TelemetryWrite, completion: Completion?) throws(TelemetryStoreError) {
        self.condition.lock()
        defer { self.condition.unlock() }
        if let failure = self.failure { throw failure }
        if self.stopping { throw TelemetryStoreError(.closed, "the store is closing") }
        guard self.queue.count + self.held < self.limit else {
            self.stats.refusedQueueFull += 1
            throw TelemetryStoreError(.queueFull, "\(self.limit) writes are already waiting")
        }
        self.queue.append((write, completion))
        self.stats.largestQueue = max(self.stats.largestQueue, self.queue.count + self.held)
        self.condition.signal()
    }

    var statistics: TelemetryStoreStatistics {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.stats
    }

    var currentFailure: TelemetryStoreError? {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.failure
    }

    /// Refuses new writes, lets the thread commit what is queued, and waits until it is done.
    func close() {
        self.condition.lock()
        self.stopping = true
        self.condition.broadcast()
        while !self.finished { self.condition.wait() }
        self.condition.unlock()
    }

    /// Like ``close()`` without waiting: the thread commits what is queued and exits.
    func stop() {
        self.condition.lock()
        self.stopping = true
        self.condition.broadcast()
        self.condition.unlock()
    }

    private func run() {
        var batch: [(TelemetryWrite, Completion?)] = []
        while true {
            self.condition.lock()
            while self.queue.isEmpty && !self.stopping { self.condition.wait() }
            if self.queue.isEmpty {
                self.finished = true
                self.condition.broadcast()
                self.condition.unlock()
                // Fold the WAL into the database file so that a reader without the WAL sees all.
                if let sqlite = self.tables.connection as? SQLiteConnection {
                    try? sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                }
                return
            }
            if self.queue.count <= self.maximumBatch {
                swap(&batch, &self.queue)
            } else {
                batch.append(contentsOf: self.queue.prefix(self.maximumBatch))
                self.queue.removeFirst(self.maximumBatch)
            }
            // A closing store whose database stayed away: the rest is failed without a try each
            // (each could wait out a connect timeout).
            let earlierFailure = self.failure ?? self.abandoned
            self.condition.unlock()

            var result =
                earlierFailure.map { Result<(Int, Int), TelemetryStoreError>.failure($0) } ?? self.commit(batch)
            while earlierFailure == nil, case .failure(let error) = result, error.code == .databaseUnavailable {
                guard self.waitToRetry(batch.count) else { break }
                result = self.commit(batch)
            }

            self.condition.lock()
            self.held = 0
            switch result {
            case .success(let (inserted, duplicates)):
                self.stats.commits += 1
                self.stats.telemetryInserted += inserted
                self.stats.telemetryDuplicates += duplicates
                self.stats.largestBatch = max(self.stats.largestBatch, batch.count)
            case .failure(let error) where error.code == .databaseUnavailable:
                // Closed while the database was away: these writes fail, the store is closing.
                self.stats.unwrittenAtClose += batch.count
                self.abandoned = self.abandoned ?? error
            case .failure(let error):
                self.failure = self.failure ?? error
            }
            self.condition.unlock()
            let outcome = result.map { _ in () }
            for (_, completion) in batch { completion?(outcome) }
            batch.removeAll(keepingCapacity: true)
        }
    }

    /// After a batch failed because the database did not answer: holds it (counted against the
    /// bound), waits `retryDelay` or until the store closes. Returns whether to try again: once
    /// more after a close, then no.
    private func waitToRetry(_ count: Int) -> Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.stats.unavailableRetries += 1
        if self.stopping && self.held > 0 { return false }
        self.held = count
        let seconds =
            Double(self.retryDelay.components.seconds) + Double(self.retryDelay.components.attoseconds) / 1e18
        let deadline = Date(timeIntervalSinceNow: seconds)
        // Each `submit` signals the condition: only a close cuts the wait short, so a stream of
        // telemetry while the database is away costs one try per delay, not one per write.
        while !self.stopping && self.condition.wait(until: deadline) {}
        return true
    }

    /// One transaction for the batch. Returns telemetry rows inserted and duplicates ignored.
    private func commit(_ batch: [(TelemetryWrite, Completion?)]) -> Result<(Int, Int), TelemetryStoreError> {
        do {
            return .success(
                try self.tables.connection.writeTransaction {
                    var inserted = 0
                    var duplicates = 0
                    for (write, _) in batch {
                        if try self.tables.apply(write) {
                            inserted += 1
                        } else if case .telemetry = write {
                            duplicates += 1
                        }
                    }
                    return (inserted, duplicates)
                }
            )
        } catch let error as AuditLogError where error.code == .databaseUnavailable {
            return .failure(TelemetryStoreError(.databaseUnavailable, "\(self.tables.name): \(error.reason)"))
        } catch {
            return .failure(TelemetryStoreError(.storageFailed, "\(self.tables.name): \(error)"))
        }
    }
}

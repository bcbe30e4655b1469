/// The append-only, tamper-evident audit log: a Merkle tree over canonical entries, kept in an
/// `AuditStore`, with signed checkpoints.
///
/// `append` returns only when the entry is durable. Concurrent appends are group-committed: the
/// first caller to find the log idle commits everything queued (up to `maximumBatch`) in one store
/// transaction while later callers wait; when that commit is durable, each waiter gets its own
/// receipt and the next waiter leads the next batch. If a commit fails, every entry in it fails,
/// and the log refuses further appends (`.logUnavailable`) until reopened, because after an I/O
/// error it cannot know what reached the disk.
///
/// A database that cannot be reached (`.databaseUnavailable`, PostgreSQL) is different: the
/// server will say later what it committed. The batch in flight waits, up to
/// `unknownOutcomeLimit`, and is settled once the database answers: found in the store (it was
/// committed: its callers succeed) or written again at the tip. Meanwhile every other append
/// fails at once with `.databaseUnavailable` (nothing written, nothing to settle): callers
/// answer 503 instead of queueing behind a dead connection. Once settled the log takes appends
/// again; past the limit it stops as for an I/O error.
public actor AuditLog {
    public struct Configuration: Sendable {
        /// The checkpoint origin line, e.g. "medtunnel.local/audit".
        public var origin: String
        /// Sign a checkpoint in the commit that takes the log this many entries past the last one.
        public var checkpointInterval: UInt64
        /// The most entries one group commit takes.
        public var maximumBatch: Int
        /// How long a batch whose commit was cut off with the database waits to be settled before
        /// the log stops.
        public var unknownOutcomeLimit: Duration

        public init(
            origin: String = "medtunnel.local/audit",
            checkpointInterval: UInt64 = 1024,
            maximumBatch: Int = 1024,
            unknownOutcomeLimit: Duration = .seconds(600)
        ) {
            self.origin = origin
            self.checkpointInterval = max(1, checkpointInterval)
            self.maximumBatch = max(1, maximumBatch)
            self.unknownOutcomeLimit = unknownOutcomeLimit
        }
    }

    /// What a durable append returns.
    public struct Receipt: Hashable, Sendable {
        public let index: UInt64
        public let leafHash: [UInt8]
    }

    public let configuration: Configuration
    public nonisolated let store: any AuditStore
    public nonisolated let signer: CheckpointSigner
    var frontier: MerkleFrontier
    var checkpointedSize: UInt64
    /// Store transactions committed by this writer (group commits); appends / commits is the batch size.
    public private(set) var commitCount: UInt64 = 0
    private var pending: [Waiter] = []
    private var committing = false
    private var failure: AuditLogError?
    /// Set while a batch cut off with the database waits to be settled: new appends fail fast.
    private var unavailable: AuditLogError?

    /// Opens a log over `store`, loading the tree's right edge from it.
    public init(store: any AuditStore, signer: CheckpointSigner, configuration: Configuration = .init()) async throws {
        self.store = store
        self.signer = signer
        self.configuration = configuration
        let size = try await store.size()
        self.frontier = try MerkleFrontier(
            size: size,
            hashes: try await store.hashes(of: MerkleNodeID.decompose(0..<size))
        )
        self.checkpointedSize = try await store.latestCheckpoint()?.size ?? 0
    }

    /// Why this log refuses appends (a failed commit: after an I/O error, or with its database
    /// gone, it cannot know what reached the store), until it is reopened; nil while it takes them.
    public var stoppedReason: String? { self.failure?.reason }

    /// Why the log's database cannot be reached now (appends fail fast until it answers); nil
    /// when it can.
    public var databaseProblem: String? { self.unavailable?.reason }

    /// Why appends fail for now (the database cannot be reached; they resume once it answers),
    /// or why they stopped for good; nil while the log takes them.
    public var unavailableReason: String? {
        self.failure?.reason ?? self.unavailable.map { "database unavailable: \($0.reason)" }
    }

    /// The number of durable entries this writer knows of.
    public var size: UInt64 { self.frontier.size }

    /// The current root hash.
    public var rootHash: [UInt8] { self.frontier.root }

    /// Appends `event` and returns once it is durable, with its index.
    public func append(_ event: AuditEvent) async throws -> Receipt {
        if let unavailable = self.unavailable {
            throw AuditLogError(.databaseUnavailable, "nothing appended: \(unavailable.reason)")
        }
        let role: Waiter.Outcome = await withCheckedContinuation { continuation in
            if self.committing {
                self.pending.append(Waiter(event: event, continuation: continuation))
            } else {
                self.committing = true
                continuation.resume(returning: .lead(event))
            }
        }
        switch role {
        case .done(let result):
            return try result.get()
        case .lead(let ownEvent):
            return try await self.lead(ownEvent)
        }
    }

    /// Signs and stores a checkpoint of the current tree unless the latest stored one already has
    /// this size, and returns the latest.
    public func checkpoint() async throws -> SignedCheckpoint {
        if let failure = self.failure { throw AuditLogError(.logUnavailable, failure.reason) }
        let signed = try self.signer.sign(self.currentCheckpoint())
        if let latest = try await self.store.latestCheckpoint(), latest.size >= signed.checkpoint.size {
            let checkpoint = try self.signer.verifier.verifyCheckpoint(
                note: latest.note,
                context: "checkpoint \(latest.size)"
            )
            return SignedCheckpoint(checkpoint: checkpoint, note: latest.note)
        }
        try await self.store.storeCheckpoint(size: signed.checkpoint.size, note: signed.note)
        // A commit may have stored a larger checkpoint while this one was being written.
        self.checkpointedSize = max(self.checkpointedSize, signed.checkpoint.size)
        return signed
    }

    func currentCheckpoint() -> Checkpoint {
        Checkpoint(origin: self.configuration.origin, size: self.frontier.size, rootHash: self.frontier.root)
    }

    // MARK: Group commit

    private func lead(_ ownEvent: AuditEvent) async throws -> Receipt {
        // Let callers just woken by the previous commit queue up before the batch is cut: one
        // yield costs microseconds against a commit's milliseconds, and fills the batch.
        await Task.yield()
        let others = Array(self.pending.prefix(self.configuration.maximumBatch - 1))
        self.pending.removeFirst(others.count)
        let events = [ownEvent] + others.map(\.event)
        let result: Result<[Receipt], AuditLogError> = await self.commit(events)
        switch result {
        case .success(let receipts):
            for (waiter, receipt) in zip(others, receipts.dropFirst()) {
                waiter.continuation.resume(returning: .done(.success(receipt)))
            }
        case .failure(let error):
            for waiter in others { waiter.continuation.resume(returning: .done(.failure(error))) }
        }
        // Hand the lead to the next waiter, or go idle.
        if self.pending.isEmpty {
            self.committing = false
        } else {
            let next = self.pending.removeFirst()
            next.continuation.resume(returning: .lead(next.event))
        }
        return try result.get()[0]
    }

    private func commit(_ events: [AuditEvent]) async -> Result<[Receipt], AuditLogError> {
        if let failure = self.failure {
            return .failure(AuditLogError(.logUnavailable, "audit log stopped after: \(failure.reason)"))
        }
        let configuration = self.configuration
        let signer = self.signer
        do {
            var prepared = try Self.prepare(
                events,
                frontier: self.frontier,
                checkpointedSize: self.checkpointedSize,
                configuration: configuration,
                signer: signer
            )
            do {
                try await self.store.append(prepared.batch)
            } catch let error as AuditLogError where error.code == .concurrentWriter {
                // Another process (a command beside the gateway, or the gateway beside it)
                // appended since this writer's last commit: build the batch again at the store's
                // tip, under its write lock, where no one can come between.
                prepared = try await self.appendAtTip(events)
            } catch let error as AuditLogError where error.code == .databaseUnavailable {
                prepared = try await self.settle(prepared, events: events, cutOff: error)
            }
            self.frontier = prepared.frontier
            self.commitCount += 1
            if prepared.batch.checkpoint != nil { self.checkpointedSize = prepared.frontier.size }
            return .success(prepared.receipts)
        } catch let error as AuditLogError {
            return self.stop(error)
        } catch {
            return self.stop(AuditLogError(.storageFailure, "append: \(error)"))
        }
    }

    /// A commit's batch, built on `frontier`: the entries, the tree nodes they complete, and a
    /// signed checkpoint when one is due; with the frontier and receipts it leaves.
    struct Prepared: Sendable {
        let batch: AuditBatch
        let frontier: MerkleFrontier
        let receipts: [Receipt]
    }

    private static func prepare(
        _ events: [AuditEvent],
        frontier start: MerkleFrontier,
        checkpointedSize: UInt64,
        configuration: Configuration,
        signer: CheckpointSigner
    ) throws -> Prepared {
        var frontier = start
        var entries: [StoredEntry] = []
        var nodes: [StoredNode] = []
        var receipts: [Receipt] = []
        for event in events {
            let entry = AuditEntry(index: frontier.size, event: event)
            let body = entry.encoded()
            let leaf = RFC9162.leafHash(body)
            entries.append(StoredEntry(index: entry.index, body: body, leafHash: leaf))
            receipts.append(Receipt(index: entry.index, leafHash: leaf))
            frontier.append(leafHash: leaf) { id, hash in nodes.append(StoredNode(key: id.storageKey, hash: hash)) }
        }
        // Written as a sum: after a reload the latest checkpoint may be past the size read.
        let due = frontier.size >= checkpointedSize + configuration.checkpointInterval
        let signed =
            try due
            ? signer.sign(Checkpoint(origin: configuration.origin, size: frontier.size, rootHash: frontier.root))
            : nil
        return Prepared(
            batch: AuditBatch(
                firstIndex: start.size,
                entries: entries,
                nodes: nodes,
                checkpoint: signed.map { StoredCheckpoint(size: $0.checkpoint.size, note: $0.note) }
            ),
            frontier: frontier,
            receipts: receipts
        )
    }

    /// The batch that appends `events` at `tip`, for a store that writes it itself in a
    /// transaction of its own, beside rows of its own (the change store on PostgreSQL: a step's
    /// entry and its rows commit together or not at all). The caller read `tip` under the store's
    /// write lock and holds it until its commit. This log learns of the entries as of any other
    /// writer's: its next append finds the store moved on and builds at the new tip.
    public nonisolated func batch(appending events: [AuditEvent], at tip: AuditTip) throws -> (AuditBatch, [Receipt]) {
        let prepared = try Self.prepare(
            events,
            frontier: try MerkleFrontier(size: tip.size, hashes: tip.rightEdge),
            checkpointedSize: min(tip.size, tip.checkpointedSize),
            configuration: self.configuration,
            signer: self.signer
        )
        return (prepared.batch, prepared.receipts)
    }

    /// `events` as a batch built at the store's tip under its write lock.
    private func appendAtTip(_ events: [AuditEvent]) async throws -> Prepared {
        let configuration = self.configuration
        let signer = self.signer
        return try await self.store.appendAtTip { tip in
            let again = try Self.prepare(
                events,
                frontier: try MerkleFrontier(size: tip.size, hashes: tip.rightEdge),
                checkpointedSize: min(tip.size, tip.checkpointedSize),
                configuration: configuration,
                signer: signer
            )
            return (again.batch, again)
        }
    }

    /// A batch whose commit was cut off with the database: the server may have committed it or
    /// not. Once it answers again, the batch is looked for where it was written (one transaction:
    /// all of it or none); found, it stands; not found, it is written again at the tip. Every
    /// other append fails fast meanwhile.
    private func settle(_ prepared: Prepared, events: [AuditEvent], cutOff: AuditLogError) async throws -> Prepared {
        self.unavailable = cutOff
        defer { self.unavailable = nil }
        // Those queued behind this batch are not in it: they fail now, nothing of theirs written.
        let queued = self.pending
        self.pending.removeAll()
        for waiter in queued {
            waiter.continuation.resume(
                returning: .done(.failure(AuditLogError(.databaseUnavailable, "nothing appended: \(cutOff.reason)")))
            )
        }
        let start = ContinuousClock.now
        var pause = Duration.milliseconds(50)
        var last = cutOff
        while ContinuousClock.now - start < self.configuration.unknownOutcomeLimit {
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(1))
            do {
                if let landed = try await self.landed(events, from: prepared.batch.firstIndex) { return landed }
                return try await self.appendAtTip(events)
            } catch let error as AuditLogError where error.code == .databaseUnavailable {
                self.unavailable = error
                last = error
            }
        }
        throw AuditLogError(
            .storageFailure,
            "a commit cut off with the database was not settled within \(self.configuration.unknownOutcomeLimit): \(last.reason)"
        )
    }

    /// `events` as one run in the store at or after `first` (where the cut-off commit wrote
    /// them, or a retry cut off in turn, further on), with the store's tip; nil if absent.
    private func landed(_ events: [AuditEvent], from first: UInt64) async throws -> Prepared? {
        let size = try await self.store.size()
        guard size >= first + UInt64(events.count) else { return nil }
        let stored = try await self.store.entries(in: first..<size)
        let found = stored.map { try? AuditEntry(decoding: $0.body, context: "settle").event }
        guard found.count >= events.count,
            let offset = (0...(found.count - events.count)).first(where: { offset in
                events.indices.allSatisfy { found[offset + $0] == events[$0] }
            })
        else { return nil }
        let run = Array(stored[offset..<(offset + events.count)])
        return Prepared(
            batch: AuditBatch(firstIndex: first + UInt64(offset), entries: run, nodes: [], checkpoint: nil),
            frontier: try MerkleFrontier(
                size: size,
                hashes: try await self.store.hashes(of: MerkleNodeID.decompose(0..<size))
            ),
            receipts: run.map { Receipt(index: $0.index, leafHash: $0.leafHash) }
        )
    }

    private func stop(_ error: AuditLogError) -> Result<[Receipt], AuditLogError> {
        self.failure = error
        return .failure(error)
    }
}

/// A caller waiting in the group-commit queue.
private struct Waiter: Sendable {
    enum Outcome: Sendable {
        case done(Result<AuditLog.Receipt, AuditLogError>)
        case lead(AuditEvent)
    }
    let event: AuditEvent
    let continuation: CheckedContinuation<Outcome, Never>
}

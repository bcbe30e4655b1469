public import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The clock leases are counted on: milliseconds that never go back and keep counting while the
/// process is stopped (SIGSTOP) or the machine is suspended (`CLOCK_BOOTTIME`), so a node that
/// wakes up finds its deadline passed instead of believing no time went by.
public enum LeaseClock {
    public static let boottime: @Sendable () -> Int64 = {
        var now = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_BOOTTIME, &now)
        #else
        clock_gettime(CLOCK_MONOTONIC, &now)
        #endif
        return Int64(now.tv_sec) * 1_000 + Int64(now.tv_nsec) / 1_000_000
    }
}

/// Carries out a `LeaseBook`'s actions against a `LeaseStore`, and answers the fence.
///
/// `run()` ticks the book (renewals, retries, the deadline) and listens for other nodes' release
/// requests until cancelled; tests drive `tick()` themselves with an injected clock. Store calls
/// are awaited in turn; each one is bounded by the store (a database that stops answering is a
/// failed call, not a hung keeper), and the fence's local half never waits for the store.
public actor LeaseKeeper {
    public struct Handlers: Sendable {
        /// The subject is this node's: for a pump, deliver what waits for it.
        public var gained: @Sendable (LeaseBook.Subject) -> Void = { _ in }
        /// Not this node's for now: nothing is sent to it (the fence refuses).
        public var lost: @Sendable (LeaseBook.Subject, String) -> Void = { _, _ in }
        /// Another node has the pump: end its session here.
        public var yield: @Sendable (LeaseBook.Subject, String) -> Void = { _, _ in }
        public init() {}
    }

    /// What `/healthz` shows.
    public struct Snapshot: Sendable, Equatable {
        public let nodeID: String
        public let nodeEpoch: Int64?
        /// Milliseconds left before the node lease's local deadline (nil: none held).
        public let remainingMilliseconds: Int64?
        public let ownedPumps: Int
        public let waitingPumps: Int
        public let roles: [String]
        public let lastError: String?
    }

    public nonisolated let configuration: LeaseBook.Configuration
    private var book: LeaseBook
    private let store: any LeaseStore
    private let now: @Sendable () -> Int64
    private let logger: Logger
    private var handlers = Handlers()
    private var lastError: String?

    public init(
        configuration: LeaseBook.Configuration,
        store: any LeaseStore,
        now: @escaping @Sendable () -> Int64 = LeaseClock.boottime,
        logger: Logger = Logger(label: "medtunnel.leases")
    ) {
        self.configuration = configuration
        self.book = LeaseBook(configuration: configuration)
        self.store = store
        self.now = now
        self.logger = logger
    }

    public func setHandlers(_ handlers: Handlers) { self.handlers = handlers }

    // MARK: Running

    /// Ticks and listens until cancelled, then releases what this node owns (a clean stop lets
    /// the other nodes take its pumps at once instead of after the lease's lifetime).
    public func run() async {
        let tickEvery = max(self.configuration.retryMilliseconds / 2, 20)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listen() }
            group.addTask {
                while !Task.isCancelled {
                    await self.tick()
                    try? await Task.sleep(for: .milliseconds(tickEvery))
                }
            }
            await group.next()
            group.cancelAll()
        }
        await self.releaseAll()
    }

    public func tick() async {
        await self.perform(self.book.tick(now: self.now()))
    }

    private func listen() async {
        let nodeID = self.configuration.nodeID
        while !Task.isCancelled {
            do {
                for try await subject in try await self.store.releaseRequests(for: nodeID) {
                    await self.releaseAsked(subject)
                }
            } catch {
                self.note(error, "listen for release requests")
            }
            try? await Task.sleep(for: .milliseconds(self.configuration.retryMilliseconds))
        }
    }

    /// Gives up everything owned, best effort (a dead database lets the leases run out).
    public func releaseAll() async {
        let owned = self.book.owned
        var actions: [LeaseBook.Action] = []
        for subject in owned { actions += self.book.drop(subject) }
        await self.perform(actions)
        if let epoch = self.book.nodeEpoch {
            do {
                try await self.store.releaseNode(self.configuration.nodeID, epoch: epoch)
            } catch {
                self.note(error, "release the node lease")
            }
        }
    }

    // MARK: Subjects

    public func want(_ subject: LeaseBook.Subject) async {
        await self.perform(self.book.want(subject, now: self.now()))
    }

    public func drop(_ subject: LeaseBook.Subject) async {
        await self.perform(self.book.drop(subject))
    }

    public func releaseAsked(_ subject: LeaseBook.Subject) async {
        self.logger.info("another node asks for a pump", metadata: ["subject": "\(subject)"])
        await self.perform(self.book.releaseAsked(subject))
    }

    // MARK: The fence

    /// The fence's local half only: no round trip (for the moment right before bytes are written).
    public func localDecision(_ subject: LeaseBook.Subject) -> LeaseBook.Decision {
        self.book.decision(for: subject, now: self.now())
    }

    /// Both halves: the local deadline, then the database's word that this node still owns the
    /// subject under the same epochs. Any failure to ask is a refusal.
    public func fence(_ subject: LeaseBook.Subject) async -> LeaseBook.Decision {
        let local = self.book.decision(for: subject, now: self.now())
        guard case .granted(let nodeEpoch, let epoch) = local else { return local }
        do {
            guard
                try await self.store.fence(
                    subject,
                    nodeID: self.configuration.nodeID,
                    nodeEpoch: nodeEpoch,
                    epoch: epoch
                )
            else {
                return .refused("the database says node \(self.configuration.nodeID) no longer owns \(subject)")
            }
        } catch {
            self.note(error, "fence \(subject)")
            return .refused("the database could not confirm the lease on \(subject): \(error)")
        }
        // The round trip took time: the deadline must still hold after it.
        return self.book.decision(for: subject, now: self.now())
    }

    public func snapshot() -> Snapshot {
        let now = self.now()
        let owned = self.book.owned
        return Snapshot(
            nodeID: self.configuration.nodeID,
            nodeEpoch: self.book.nodeEpoch,
            remainingMilliseconds: self.book.nodeDeadline().map { max(0, $0 - now) },
            ownedPumps: owned.filter { $0.kind == .pump }.count,
            waitingPumps: self.book.waiting.filter { $0.kind == .pump }.count,
            roles: owned.filter { $0.kind == .role }.map(\.name).sorted(),
            lastError: self.lastError
        )
    }

    /// Who holds each subject of `kind` on any node, read from the database now (subject name →
    /// node id): a pump's entry names the node with its session.
    public nonisolated func liveHolders(_ kind: LeaseBook.SubjectKind) async throws -> [String: String] {
        try await self.store.liveHolders(kind)
    }

    public func isHeld(_ subject: LeaseBook.Subject) -> Bool {
        if case .granted = self.localDecision(subject) { return true }
        return false
    }

    // MARK: Carrying out

    private func perform(_ actions: [LeaseBook.Action]) async {
        var queue = actions[...]
        while let action = queue.popFirst() {
            queue.append(contentsOf: await self.carryOut(action))
        }
    }

    private func carryOut(_ action: LeaseBook.Action) async -> [LeaseBook.Action] {
        let nodeID = self.configuration.nodeID
        let lease = self.configuration.leaseMilliseconds
        switch action {
        case .acquireNode:
            let askedAt = self.now()
            do {
                switch try await self.store.acquireNode(nodeID, leaseMilliseconds: lease) {
                case .acquired(let epoch):
                    self.lastError = nil
                    self.logger.info("node lease taken", metadata: ["node": "\(nodeID)", "epoch": "\(epoch)"])
                    return self.book.nodeAcquired(epoch: epoch, askedAt: askedAt)
                case .heldUntil(let remaining):
                    self.logger.warning(
                        "node id still leased by an earlier run; waiting for that lease to end",
                        metadata: ["node": "\(nodeID)", "remaining_ms": "\(remaining)"]
                    )
                    return self.book.nodeAcquireFailed(now: self.now(), retryAfter: remaining + 1)
                }
            } catch {
                self.note(error, "take the node lease")
                return self.book.nodeAcquireFailed(now: self.now())
            }
        case .renewNode(let epoch):
            let askedAt = self.now()
            do {
                let renewed = try await self.store.renewNode(nodeID, epoch: epoch, leaseMilliseconds: lease)
                if renewed { self.lastError = nil }
                return self.book.nodeRenewed(renewed, epoch: epoch, askedAt: askedAt)
            } catch {
                self.note(error, "renew the node lease")
                return self.book.nodeRenewFailed(epoch: epoch, now: self.now())
            }
        case .acquire(let subject, let nodeEpoch):
            do {
                switch try await self.store.acquire(subject, nodeID: nodeID, nodeEpoch: nodeEpoch) {
                case .owned(let epoch):
                    return self.book.subjectAcquired(subject, epoch: epoch, nodeEpoch: nodeEpoch, now: self.now())
                case .held(let holder):
                    return self.book.subjectHeld(subject, by: holder, now: self.now())
                }
            } catch {
                self.note(error, "take \(subject)")
                return self.book.subjectAcquireFailed(subject, now: self.now())
            }
        case .release(let subject, let epoch):
            do {
                try await self.store.release(subject, nodeID: nodeID, epoch: epoch)
            } catch {
                // Not fatal: the lease runs out on its own, and the fence stays shut here.
                self.note(error, "release \(subject)")
            }
            return []
        case .askRelease(let subject, let holder):
            do {
                try await self.store.askRelease(subject, holder: holder, from: nodeID)
            } catch {
                self.note(error, "ask node \(holder) to release \(subject)")
            }
            return []
        case .gained(let subject):
            self.logger.debug("lease gained", metadata: ["subject": "\(subject)"])
            self.handlers.gained(subject)
            return []
        case .lost(let subject, let reason):
            self.logger.warning(
                "lease lost; nothing is sent until it is back",
                metadata: ["subject": "\(subject)", "reason": "\(reason)"]
            )
            self.handlers.lost(subject, reason)
            return []
        case .yield(let subject, let reason):
            self.logger.notice(
                "another node has the pump; its session here ends",
                metadata: ["subject": "\(subject)", "reason": "\(reason)"]
            )
            self.handlers.yield(subject, reason)
            return []
        case .nodeLeaseLost(let reason):
            self.logger.error(
                "node lease lost: deliveries stop until it is taken again",
                metadata: ["node": "\(nodeID)", "reason": "\(reason)"]
            )
            return []
        }
    }

    private func note(_ error: any Error, _ operation: String) {
        let text = "\(operation): \(error)"
        if self.lastError != text {
            self.logger.warning("lease store failed", metadata: ["operation": "\(operation)", "error": "\(error)"])
        }
        self.lastError = text
    }
}

import NodeLeases
import Testing

/// The node's side of leasing as a pure machine: every answer the store can give, in order.
@Suite("Lease book: node lease, owners, the local fence")
struct LeaseBookTests {
    let configuration = LeaseBook.Configuration(nodeID: "node-a", leaseMilliseconds: 3_000)
    let pump = LeaseBook.Subject.pump("PUMP-1")

    /// A book holding its node lease (epoch 7, asked at t=1000) and owning `pump` (epoch 3).
    func owning() -> LeaseBook {
        var book = LeaseBook(configuration: configuration)
        #expect(book.tick(now: 0) == [.acquireNode])
        #expect(book.nodeAcquired(epoch: 7, askedAt: 1_000) == [])
        #expect(book.want(pump, now: 1_000) == [.acquire(pump, nodeEpoch: 7)])
        #expect(book.subjectAcquired(pump, epoch: 3, nodeEpoch: 7, now: 1_010) == [.gained(pump)])
        return book
    }

    @Test(
        "the fence grants while the node lease is within its deadline, counted from when it was asked, less the margin"
    )
    func deadline() {
        let book = owning()
        // 3000 ms lease, 300 ms margin: the local deadline is 1000 + 2700.
        #expect(book.decision(for: pump, now: 3_699) == .granted(nodeEpoch: 7, epoch: 3))
        #expect(book.decision(for: pump, now: 3_700) == .refused("node node-a's lease ran out 0 ms ago"))
        #expect(
            book.decision(for: .pump("PUMP-2"), now: 1_100) == .refused("node node-a does not own pump PUMP-2")
        )
    }

    @Test("renewals fall due a third of the way in; a renewal moves the deadline from when it was asked")
    func renewal() {
        var book = owning()
        #expect(book.tick(now: 1_999) == [])
        #expect(book.tick(now: 2_000) == [.renewNode(epoch: 7)])
        #expect(book.tick(now: 2_100) == [], "one renewal in flight at a time")
        #expect(book.nodeRenewed(true, epoch: 7, askedAt: 2_000) == [])
        #expect(book.decision(for: pump, now: 4_699) == .granted(nodeEpoch: 7, epoch: 3))
        #expect(book.tick(now: 3_000) == [.renewNode(epoch: 7)])
    }

    @Test(
        "a paused node wakes past its deadline: the fence refuses, the lease is lost and asked for again, the session kept"
    )
    func pausedPastDeadline() {
        var book = owning()
        #expect(book.tick(now: 2_000) == [.renewNode(epoch: 7)])
        // The process was stopped with the renewal in flight; it answers (failed) long after.
        #expect(book.decision(for: pump, now: 9_000) == .refused("node node-a's lease ran out 5300 ms ago"))
        let actions = book.nodeRenewFailed(epoch: 7, now: 9_000)
        #expect(
            actions == [
                .nodeLeaseLost(reason: "its lease ran out before a renewal came back"),
                .lost(pump, reason: "node lease lost: its lease ran out before a renewal came back"),
                .acquireNode,
            ]
        )
        // A new node epoch: the pump is asked for again, not fresh, under it.
        #expect(book.nodeAcquired(epoch: 8, askedAt: 9_100) == [.acquire(pump, nodeEpoch: 8)])
        // Another node took it meanwhile: this session is the older one and ends.
        #expect(book.subjectHeld(pump, by: "node-b", now: 9_150) == [.yield(pump, reason: "node node-b owns it now")])
        #expect(book.decision(for: pump, now: 9_200) == .refused("node node-a does not own pump PUMP-1"))
    }

    @Test("the database no longer holding the node lease loses everything at once")
    func renewalRefused() {
        var book = owning()
        _ = book.tick(now: 2_000)
        #expect(
            book.nodeRenewed(false, epoch: 7, askedAt: 2_000) == [
                .nodeLeaseLost(reason: "the database no longer holds its lease (epoch 7)"),
                .lost(pump, reason: "node lease lost: the database no longer holds its lease (epoch 7)"),
            ]
        )
        #expect(book.decision(for: pump, now: 2_001) == .refused("node node-a holds no lease"))
    }

    @Test("a fresh hello for a pump another live node owns asks that node to let go, then retries")
    func askRelease() {
        var book = LeaseBook(configuration: configuration)
        _ = book.tick(now: 0)
        _ = book.nodeAcquired(epoch: 1, askedAt: 0)
        #expect(book.want(pump, now: 10) == [.acquire(pump, nodeEpoch: 1)])
        #expect(book.subjectHeld(pump, by: "node-b", now: 20) == [.askRelease(pump, holder: "node-b")])
        #expect(book.tick(now: 100) == [])
        #expect(book.tick(now: 320) == [.acquire(pump, nodeEpoch: 1)], "retry after 300 ms")
        #expect(book.subjectAcquired(pump, epoch: 5, nodeEpoch: 1, now: 330) == [.gained(pump)])
    }

    @Test("asked to let go, the owner ends its session and releases under its epoch")
    func releaseAsked() {
        var book = owning()
        #expect(
            book.releaseAsked(pump) == [
                .yield(pump, reason: "it said hello to another node"), .release(pump, epoch: 3),
            ]
        )
        #expect(book.releaseAsked(.pump("PUMP-9")) == [.release(.pump("PUMP-9"), epoch: nil)])
    }

    @Test("a session that ends releases; an acquisition answered after the session ended is released at once")
    func dropAndLateAnswer() {
        var book = owning()
        #expect(book.drop(pump) == [.release(pump, epoch: 3)])
        #expect(book.drop(pump) == [])
        let other = LeaseBook.Subject.pump("PUMP-2")
        #expect(book.want(other, now: 1_100) == [.acquire(other, nodeEpoch: 7)])
        #expect(book.drop(other) == [])
        #expect(book.subjectAcquired(other, epoch: 1, nodeEpoch: 7, now: 1_120) == [.release(other, epoch: 1)])
    }

    @Test("a role held by another node is retried quietly, never asked for")
    func role() {
        var book = LeaseBook(configuration: configuration)
        _ = book.tick(now: 0)
        _ = book.nodeAcquired(epoch: 1, askedAt: 0)
        let role = LeaseBook.Subject.role("checkpoint")
        #expect(book.want(role, now: 0) == [.acquire(role, nodeEpoch: 1)])
        #expect(book.subjectHeld(role, by: "node-b", now: 5) == [])
        #expect(book.tick(now: 305) == [.acquire(role, nodeEpoch: 1)])
    }

    @Test("a node id still leased by an earlier run waits that long before asking again")
    func nodeHeldByEarlierRun() {
        var book = LeaseBook(configuration: configuration)
        #expect(book.tick(now: 0) == [.acquireNode])
        #expect(book.nodeAcquireFailed(now: 10, retryAfter: 2_000) == [])
        #expect(book.tick(now: 2_009) == [])
        #expect(book.tick(now: 2_010) == [.acquireNode])
    }
}

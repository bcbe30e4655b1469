import AuditPostgres
import ClusterPostgres
import Foundation
import MedTunnelTestSupport
import NodeLeases
import Synchronization
import Testing

/// Two keepers (two nodes) on one real database, each with a clock the test moves.
@Suite("Lease keeper: two nodes, one database, a paused node fenced out")
struct LeaseKeeperTests {
    let pump = LeaseBook.Subject.pump("PUMP-1")

    final class Events: Sendable {
        let log = Mutex<[String]>([])
        func add(_ event: String) { log.withLock { $0.append(event) } }
        var all: [String] { log.withLock { $0 } }
    }

    func keeper(
        _ node: String,
        url: String,
        clock: ManualMilliseconds,
        events: Events
    ) async throws -> LeaseKeeper {
        let keeper = LeaseKeeper(
            configuration: LeaseBook.Configuration(nodeID: node, leaseMilliseconds: 3_000),
            store: PostgresLeaseStore(url: try PostgresURL(url)),
            now: { clock.now }
        )
        var handlers = LeaseKeeper.Handlers()
        handlers.gained = { events.add("\(node) gained \($0)") }
        handlers.lost = { subject, _ in events.add("\(node) lost \(subject)") }
        handlers.yield = { subject, _ in events.add("\(node) yields \(subject)") }
        await keeper.setHandlers(handlers)
        await keeper.tick()
        return keeper
    }

    /// node-a and node-b on a new database, each with its own clock, sharing one event list.
    func twoNodes() async throws -> (
        url: String, events: Events, clockA: ManualMilliseconds, clockB: ManualMilliseconds, a: LeaseKeeper,
        b: LeaseKeeper
    ) {
        let url = try await PostgresTestServer.newDatabase()
        try await PostgresAuditStore.migrate(url: url)
        let clockA = ManualMilliseconds()
        let clockB = ManualMilliseconds()
        let events = Events()
        let a = try await keeper("node-a", url: url, clock: clockA, events: events)
        let b = try await keeper("node-b", url: url, clock: clockB, events: events)
        return (url, events, clockA, clockB, a, b)
    }

    @Test("a node paused past its lease is refused by both halves of the fence while another takes the pump over")
    func pausedNode() async throws {
        let (url, events, clockA, clockB, a, b) = try await twoNodes()

        await a.want(pump)
        #expect(events.all == ["node-a gained pump PUMP-1"])
        #expect(await a.fence(pump) == .granted(nodeEpoch: 1, epoch: 1))

        // The pump says hello to node-b: node-a is live, so node-b asks it to let go and waits.
        await b.want(pump)
        #expect(await b.localDecision(pump) == .refused("node node-b does not own pump PUMP-1"))

        // node-a is stopped (SIGSTOP) and does not answer; its lease ends in the database.
        try await PostgresTestServer.sql(
            url,
            "UPDATE node_lease SET expires_at = clock_timestamp() - interval '1 millisecond' WHERE node_id = 'node-a'"
        )
        clockB.advance(300)
        await b.tick()
        #expect(events.all.last == "node-b gained pump PUMP-1")
        #expect(await b.fence(pump) == .granted(nodeEpoch: 1, epoch: 2))

        // node-a runs again before its own clock says its deadline passed: the database half
        // refuses. Then past its deadline: the local half refuses without asking.
        let stale = await a.fence(pump)
        #expect(stale == .refused("the database says node node-a no longer owns pump PUMP-1"))
        clockA.advance(5_000)
        #expect(await a.localDecision(pump) == .refused("node node-a's lease ran out 2300 ms ago"))
        await a.tick()
        #expect(events.all.contains("node-a lost pump PUMP-1"))
        // It takes a new node lease; the pump is node-b's, and this session (the older) ends.
        await a.tick()
        #expect(events.all.last == "node-a yields pump PUMP-1")
        #expect(await a.snapshot().nodeEpoch == 2)
        #expect(await a.snapshot().ownedPumps == 0)
        #expect(await b.snapshot().ownedPumps == 1)
    }

    @Test("asked to let go, a live owner ends its session and releases, and the asker takes the pump at once")
    func handOver() async throws {
        let (_, events, _, clockB, a, b) = try await twoNodes()
        await a.want(pump)
        await b.want(pump)
        // The notification carries node-b's request to node-a (run() listens; here by hand).
        await a.releaseAsked(pump)
        #expect(events.all.contains("node-a yields pump PUMP-1"))
        clockB.advance(300)
        await b.tick()
        #expect(events.all.last == "node-b gained pump PUMP-1")
        #expect(await b.fence(pump) == .granted(nodeEpoch: 1, epoch: 2))
        #expect(await a.fence(pump) == .refused("node node-a does not own pump PUMP-1"))
    }
}

/// A millisecond clock that moves only when told.
final class ManualMilliseconds: Sendable {
    private let value = Mutex<Int64>(1_000)
    var now: Int64 { value.withLock { $0 } }
    func advance(_ milliseconds: Int64) { value.withLock { $0 += milliseconds } }
}

import AuditLog
import AuditPostgres
import ClusterPostgres
import Foundation
import MedTunnelTestSupport
import NodeLeases
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Leases in a real PostgreSQL 15. A node lease's end is forced with SQL (what the database's
/// clock would do after the lifetime) rather than waited for.
@Suite("Leases in PostgreSQL: node leases, owners, epochs, the fence")
struct PostgresLeaseStoreTests {
    let pump = LeaseBook.Subject.pump("PUMP-1")

    func database() async throws -> (url: String, store: PostgresLeaseStore) {
        let url = try await PostgresTestServer.newDatabase()
        try await PostgresAuditStore.migrate(url: url)
        return (url, PostgresLeaseStore(url: try PostgresURL(url)))
    }

    func expire(_ node: String, in url: String) throws {
        try PostgresTestServer.sql(
            url,
            "UPDATE node_lease SET expires_at = clock_timestamp() - interval '1 millisecond' WHERE node_id = '\(node)'"
        )
    }

    @Test("a node id is leased to one run at a time: a second run waits, a clean stop frees it at once")
    func nodeLease() async throws {
        let (_, store) = try await database()
        #expect(try await store.acquireNode("node-a", leaseMilliseconds: 60_000) == .acquired(epoch: 1))
        guard case .heldUntil(let remaining) = try await store.acquireNode("node-a", leaseMilliseconds: 60_000) else {
            Issue.record("a live node lease was taken twice")
            return
        }
        #expect(remaining > 55_000 && remaining <= 60_000)
        #expect(try await store.renewNode("node-a", epoch: 1, leaseMilliseconds: 60_000))
        #expect(try await store.renewNode("node-a", epoch: 2, leaseMilliseconds: 60_000) == false)
        try await store.releaseNode("node-a", epoch: 1)
        #expect(try await store.renewNode("node-a", epoch: 1, leaseMilliseconds: 60_000) == false)
        #expect(try await store.acquireNode("node-a", leaseMilliseconds: 60_000) == .acquired(epoch: 2))
        await store.close()
    }

    @Test(
        "a pump owned by a live node is refused to another; once that lease ends it is taken with the next epoch and the old owner's fence shuts"
    )
    func takeover() async throws {
        let (url, store) = try await database()
        #expect(try await store.acquireNode("node-a", leaseMilliseconds: 60_000) == .acquired(epoch: 1))
        #expect(try await store.acquireNode("node-b", leaseMilliseconds: 60_000) == .acquired(epoch: 1))
        #expect(try await store.acquire(pump, nodeID: "node-a", nodeEpoch: 1) == .owned(epoch: 1))
        #expect(try await store.acquire(pump, nodeID: "node-a", nodeEpoch: 1) == .owned(epoch: 1), "kept, same epoch")
        #expect(try await store.fence(pump, nodeID: "node-a", nodeEpoch: 1, epoch: 1))
        #expect(try await store.acquire(pump, nodeID: "node-b", nodeEpoch: 1) == .held(by: "node-a"))

        try expire("node-a", in: url)
        #expect(try await store.fence(pump, nodeID: "node-a", nodeEpoch: 1, epoch: 1) == false, "expired lease")
        #expect(try await store.acquire(pump, nodeID: "node-b", nodeEpoch: 1) == .owned(epoch: 2))
        #expect(try await store.fence(pump, nodeID: "node-b", nodeEpoch: 1, epoch: 2))
        // node-a comes back with a new node epoch: the pump is node-b's, and node-a's old token
        // stays refused.
        #expect(try await store.acquireNode("node-a", leaseMilliseconds: 60_000) == .acquired(epoch: 2))
        #expect(try await store.acquire(pump, nodeID: "node-a", nodeEpoch: 2) == .held(by: "node-b"))
        #expect(try await store.fence(pump, nodeID: "node-a", nodeEpoch: 1, epoch: 1) == false)
        #expect(try await store.fence(pump, nodeID: "node-a", nodeEpoch: 2, epoch: 1) == false)
        await store.close()
    }

    @Test("a release lets the next node take the pump at once; a restarted owner's old rows are void")
    func releaseAndRestart() async throws {
        let (_, store) = try await database()
        _ = try await store.acquireNode("node-a", leaseMilliseconds: 60_000)
        _ = try await store.acquireNode("node-b", leaseMilliseconds: 60_000)
        #expect(try await store.acquire(pump, nodeID: "node-a", nodeEpoch: 1) == .owned(epoch: 1))
        try await store.release(pump, nodeID: "node-b", epoch: nil)  // not node-b's: no effect
        #expect(try await store.acquire(pump, nodeID: "node-b", nodeEpoch: 1) == .held(by: "node-a"))
        try await store.release(pump, nodeID: "node-a", epoch: 1)
        #expect(try await store.acquire(pump, nodeID: "node-b", nodeEpoch: 1) == .owned(epoch: 2))

        // node-b restarts (clean stop, new epoch): what it owned under epoch 1 is void.
        try await store.releaseNode("node-b", epoch: 1)
        #expect(try await store.acquireNode("node-b", leaseMilliseconds: 60_000) == .acquired(epoch: 2))
        #expect(try await store.acquire(pump, nodeID: "node-a", nodeEpoch: 1) == .owned(epoch: 3))
        await store.close()
    }

    @Test("taking a subject under a node lease that is not live is refused, naming the node and epoch")
    func deadNodeLease() async throws {
        let (url, store) = try await database()
        _ = try await store.acquireNode("node-a", leaseMilliseconds: 60_000)
        try expire("node-a", in: url)
        let error = await #expect(throws: LeaseStoreError.self) {
            try await store.acquire(pump, nodeID: "node-a", nodeEpoch: 1)
        }
        #expect(
            error?.description.contains("node node-a holds no live lease under epoch 1") == true,
            "\(String(describing: error))"
        )
        await store.close()
    }

    @Test("a release request reaches the holder's listener only")
    func releaseRequests() async throws {
        let (url, store) = try await database()
        let listenerStore = PostgresLeaseStore(url: try PostgresURL(url))
        let toA = try await listenerStore.releaseRequests(for: "node-a")
        let toC = try await listenerStore.releaseRequests(for: "node-c")
        try await store.askRelease(pump, holder: "node-a", from: "node-b")
        var iterator = toA.makeAsyncIterator()
        #expect(try await iterator.next() == pump)
        // node-c's stream saw nothing: a request for node-c sent after is the first it gets.
        try await store.askRelease(.pump("PUMP-2"), holder: "node-c", from: "node-b")
        var other = toC.makeAsyncIterator()
        #expect(try await other.next() == .pump("PUMP-2"))
        await store.close()
    }

    @Test("a database that accepts the connection and never answers fails the call within the timeout")
    func silentServer() async throws {
        let silent = try SilentListener()
        let store = PostgresLeaseStore(
            url: try PostgresURL("postgres://medtunnel@127.0.0.1:\(silent.port)/x"),
            timeout: .milliseconds(400)
        )
        // Bounded, not hung: the failure names the bound (how soon it comes depends on the
        // machine's load, which parallel tests that block threads make heavy).
        let error = await #expect(throws: AuditLogError(.databaseUnavailable, "")) {
            try await store.acquireNode("node-a", leaseMilliseconds: 1_000)
        }
        #expect(error?.reason.contains("no answer within 0.4 seconds") == true, "\(String(describing: error))")
    }
}

/// A TCP listener that never accepts or answers: the kernel completes the handshake from the
/// backlog, and nothing ever comes back (a database behind a cut that keeps TCP up).
final class SilentListener: Sendable {
    let port: Int
    let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Loopback.address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard fd >= 0, bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

import Testing
import TherapyModel

@testable import ChangeRequests

/// A pump offers its pairing code to the node holding its session; the patient's pairing may
/// reach any node.
@Suite("pairing offers shared by several nodes (PostgreSQL)")
struct SharedPairingOfferTests {
    let now = StoreFixture.now
    let nonce = [UInt8](repeating: 0xA5, count: 16)

    func at(_ seconds: Int64) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: StoreFixture.now.millisecondsSinceEpoch + seconds * 1000)
    }

    @Test("an offer shared by one node is found by another, for that pump, nonce and expiry only")
    func foundElsewhere() async throws {
        let nodeA = try await StoreFixture.make(.postgres)
        let nodeB = try await nodeA.restarted()
        try await nodeA.store.shareOffer(serial: "PUMP-0001", nonce: nonce, expiresAt: at(300), now: now)
        #expect(try await nodeB.store.isOfferShared(serial: "PUMP-0001", nonce: nonce, expiresAt: at(300)))
        #expect(try await !nodeB.store.isOfferShared(serial: "PUMP-0002", nonce: nonce, expiresAt: at(300)))
        #expect(try await !nodeB.store.isOfferShared(serial: "PUMP-0001", nonce: nonce, expiresAt: at(301)))
        var other = nonce
        other[0] = 0
        #expect(try await !nodeB.store.isOfferShared(serial: "PUMP-0001", nonce: other, expiresAt: at(300)))
        // Offered again (a new session): still one offer, no error.
        try await nodeB.store.shareOffer(serial: "PUMP-0001", nonce: nonce, expiresAt: at(300), now: at(10))
        #expect(try await nodeA.store.isOfferShared(serial: "PUMP-0001", nonce: nonce, expiresAt: at(300)))
    }

    @Test("bounded: expired offers go as new ones arrive, and a pump keeps its newest four")
    func bounded() async throws {
        let node = try await StoreFixture.make(.postgres)
        for n in 0..<6 {
            let nonce = [UInt8](repeating: UInt8(n), count: 16)
            try await node.store.shareOffer(serial: "PUMP-0001", nonce: nonce, expiresAt: at(600), now: at(Int64(n)))
        }
        var kept: [Int] = []
        for n in 0..<6
        where try await node.store.isOfferShared(
            serial: "PUMP-0001",
            nonce: [UInt8](repeating: UInt8(n), count: 16),
            expiresAt: at(600)
        ) {
            kept.append(n)
        }
        #expect(kept == [2, 3, 4, 5])
        try await node.store.shareOffer(serial: "PUMP-0002", nonce: nonce, expiresAt: at(700), now: at(650))
        #expect(
            try await !node.store.isOfferShared(
                serial: "PUMP-0001",
                nonce: [5] + [UInt8](repeating: 5, count: 15),
                expiresAt: at(600)
            )
        )
    }

    @Test("on one gateway's SQLite store nothing is shared: the pipeline's memory answers")
    func notOnSQLite() async throws {
        let node = try await StoreFixture.make(.sqlite)
        try await node.store.shareOffer(serial: "PUMP-0001", nonce: nonce, expiresAt: at(300), now: now)
        #expect(try await !node.store.isOfferShared(serial: "PUMP-0001", nonce: nonce, expiresAt: at(300)))
    }
}

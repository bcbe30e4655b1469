import Testing
import TherapyModel
import TunnelProtocol

@testable import CommandPipeline

@Suite("Pairing offers held in memory: bounded")
struct PairingOffersTests {
    static let now = Timestamp(millisecondsSinceEpoch: 1_790_000_000_000)

    static func code(_ serial: String, _ byte: UInt8, expiresIn minutes: Int64 = 10) -> PairingCode {
        try! PairingCode(
            serial: serial,
            nonce: [UInt8](repeating: byte, count: 16),
            expiresAt: now.advanced(byMinutes: minutes)
        )
    }

    @Test("a pump keeps its 4 latest offers; an expired offer is never recorded")
    func perPump() {
        var offers = PairingOffers()
        for byte in UInt8(1)...5 {
            offers.record(InnerMessage.PairingOffer(Self.code("PUMP-0001", byte)), serial: "PUMP-0001", now: Self.now)
        }
        #expect(!offers.isOffered(Self.code("PUMP-0001", 1)))
        #expect((2...5).allSatisfy { offers.isOffered(Self.code("PUMP-0001", UInt8($0))) })
        // Another serial's offer never counts for this one, nor another expiry.
        #expect(!offers.isOffered(Self.code("PUMP-0002", 5)))
        #expect(!offers.isOffered(Self.code("PUMP-0001", 5, expiresIn: 11)))
        let stale = Self.code("PUMP-0003", 9, expiresIn: 0)
        offers.record(InnerMessage.PairingOffer(stale), serial: "PUMP-0003", now: Self.now)
        #expect(!offers.isOffered(stale) && offers.pumpCount == 1)
    }

    @Test("at most 10 000 pumps: the pump that offered longest ago goes first")
    func manyPumps() {
        var offers = PairingOffers()
        for index in 0...PairingOffers.maximumPumps {
            let serial = "PUMP-\(index)"
            let time = Timestamp(millisecondsSinceEpoch: Self.now.millisecondsSinceEpoch + Int64(index))
            offers.record(InnerMessage.PairingOffer(Self.code(serial, 1)), serial: serial, now: time)
        }
        #expect(offers.pumpCount == PairingOffers.maximumPumps)
        #expect(!offers.isOffered(Self.code("PUMP-0", 1)))
        #expect(offers.isOffered(Self.code("PUMP-\(PairingOffers.maximumPumps)", 1)))
    }
}

import TherapyModel
import TunnelProtocol

/// The pairing codes pumps said they are showing (`InnerMessage.pairingOffer`), by serial: a
/// posted code counts only if its pump offered that nonce and expiry through its own tunnel.
///
/// Held in memory: after a gateway restart a pump offers its code again on its next session.
/// Bounded: a few offers per pump (a pump shows one code at a time; a new code after a restart
/// of the pump may overlap the old one) and a bounded number of pumps; expired offers are
/// dropped as new ones arrive, and the pump offered longest ago goes first when full.
struct PairingOffers: Sendable {
    static let maximumPerPump = 4
    static let maximumPumps = 10_000

    private struct Offer: Sendable, Hashable {
        let nonce: [UInt8]
        let expiresAtMilliseconds: Int64
    }

    private var offers: [String: [Offer]] = [:]
    /// When each pump last offered, to evict the stalest pump when full.
    private var lastOffered: [String: Int64] = [:]

    mutating func record(_ offer: InnerMessage.PairingOffer, serial: String, now: Timestamp) {
        let nowMilliseconds = now.millisecondsSinceEpoch
        guard offer.expiresAtMilliseconds > nowMilliseconds else { return }
        var list = (offers[serial] ?? []).filter { $0.expiresAtMilliseconds > nowMilliseconds }
        let entry = Offer(nonce: offer.nonce, expiresAtMilliseconds: offer.expiresAtMilliseconds)
        if !list.contains(entry) { list.append(entry) }
        if list.count > Self.maximumPerPump { list.removeFirst(list.count - Self.maximumPerPump) }
        if offers[serial] == nil, offers.count >= Self.maximumPumps {
            evictStalest(now: nowMilliseconds)
        }
        offers[serial] = list
        lastOffered[serial] = nowMilliseconds
    }

    /// Whether `serial` offered a code with this nonce and expiry.
    func isOffered(_ code: PairingCode) -> Bool {
        offers[code.serial]?.contains(
            Offer(nonce: code.nonce, expiresAtMilliseconds: code.expiresAt.millisecondsSinceEpoch)
        ) ?? false
    }

    var pumpCount: Int { offers.count }

    private mutating func evictStalest(now: Int64) {
        for (serial, list) in offers where list.allSatisfy({ $0.expiresAtMilliseconds <= now }) {
            offers[serial] = nil
            lastOffered[serial] = nil
        }
        guard offers.count >= Self.maximumPumps,
            let stalest = lastOffered.min(by: { $0.value < $1.value })?.key
        else { return }
        offers[stalest] = nil
        lastOffered[stalest] = nil
    }
}

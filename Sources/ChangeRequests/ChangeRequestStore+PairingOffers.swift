import SQLiteStore
public import TherapyModel

/// The pairing codes pumps say they show, shared between gateway nodes (a shared database
/// only): the node holding a pump's session writes its offers, and a patient's pairing posted to
/// any node finds them. On one gateway the pipeline's memory is enough and nothing is written.
///
/// Bounded as the memory is: expired offers are deleted as new ones arrive, and a pump keeps
/// its `maximumPairingOffers` newest.
extension ChangeRequestStore {
    public static let maximumPairingOffers = 4

    /// Shares that pump `serial` shows the code with `nonce` expiring at `expiresAt`.
    public func shareOffer(serial: String, nonce: [UInt8], expiresAt: Timestamp, now: Timestamp) throws {
        guard let shared else { return }
        try reading("share the pairing offer of pump \(serial)") {
            try shared.writeTransaction {
                let expired = try connection.prepare("DELETE FROM pairing_offer WHERE expires_ms <= ?")
                try expired.bind(now.millisecondsSinceEpoch, at: 1)
                try expired.run()
                let insert = try connection.prepare(
                    """
                    INSERT INTO pairing_offer(pump_serial, nonce, expires_ms, offered_ms) VALUES (?, ?, ?, ?)
                    ON CONFLICT(pump_serial, nonce, expires_ms) DO NOTHING
                    """
                )
                try insert.bind(serial, at: 1)
                try insert.bind(nonce, at: 2)
                try insert.bind(expiresAt.millisecondsSinceEpoch, at: 3)
                try insert.bind(now.millisecondsSinceEpoch, at: 4)
                try insert.run()
                let oldest = try connection.prepare(
                    """
                    DELETE FROM pairing_offer WHERE pump_serial = ? AND offered_ms < (
                        SELECT min(offered_ms) FROM (
                            SELECT offered_ms FROM pairing_offer WHERE pump_serial = ?
                            ORDER BY offered_ms DESC LIMIT ?) AS newest)
                    """
                )
                try oldest.bind(serial, at: 1)
                try oldest.bind(serial, at: 2)
                try oldest.bind(Int64(Self.maximumPairingOffers), at: 3)
                try oldest.run()
            }
        }
    }

    /// Whether a node shared that pump `serial` offered this nonce and expiry (false on SQLite).
    public func isOfferShared(serial: String, nonce: [UInt8], expiresAt: Timestamp) throws -> Bool {
        guard shared != nil else { return false }
        return try reading("read the pairing offers of pump \(serial)") {
            let select = try connection.prepare(
                "SELECT 1 FROM pairing_offer WHERE pump_serial = ? AND nonce = ? AND expires_ms = ?"
            )
            try select.bind(serial, at: 1)
            try select.bind(nonce, at: 2)
            try select.bind(expiresAt.millisecondsSinceEpoch, at: 3)
            return try select.step()
        }
    }
}

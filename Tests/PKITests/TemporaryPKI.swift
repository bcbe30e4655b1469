import Foundation
import MedTunnelIdentity
import MedTunnelPKI
import MedTunnelTestSupport

/// A throwaway PKI (``ThrowawayPKI``: CA, gateway folder, devices enrolled with keys born in their
/// own folders) whose gateway folder is `directory`; `defer { temporary.remove() }`.
struct TemporaryPKI {
    let pki: ThrowawayPKI
    /// The gateway folder: where revoked.txt and the device certificates are.
    var directory: PKIDirectory { self.pki.gateway }

    init(pumps: [String] = [], phones: [String] = []) throws {
        self.pki = try ThrowawayPKI(pumps: pumps, phones: phones)
    }

    /// The lines of revoked.txt; nil when there is no file.
    func lines() throws -> [String]? {
        guard FileManager.default.fileExists(atPath: self.directory.revocationList.path) else { return nil }
        return try String(contentsOf: self.directory.revocationList, encoding: .utf8)
            .split(separator: "\n").map(String.init)
    }

    func remove() { self.pki.remove() }
}

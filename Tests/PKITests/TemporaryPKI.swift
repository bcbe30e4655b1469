import Foundation
import MedTunnelIdentity
import MedTunnelPKI

/// A PKI directory under the temporary directory (`defer { temporary.remove() }`); with a CA and
/// certificates for `pumps` and `phones` when any are given.
struct TemporaryPKI {
    let directory: PKIDirectory

    init(pumps: [String] = [], phones: [String] = []) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pki-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.directory = PKIDirectory(path)
        guard !pumps.isEmpty || !phones.isEmpty else { return }
        try PKIOperations.initialize(self.directory)
        for serial in pumps { try PKIOperations.issue(.pump(serial: serial), in: self.directory) }
        for id in phones { try PKIOperations.issue(.phone(id: id), in: self.directory) }
    }

    /// The lines of revoked.txt; nil when there is no file.
    func lines() throws -> [String]? {
        guard FileManager.default.fileExists(atPath: self.directory.revocationList.path) else { return nil }
        return try String(contentsOf: self.directory.revocationList, encoding: .utf8)
            .split(separator: "\n").map(String.init)
    }

    func remove() { try? FileManager.default.removeItem(at: self.directory.root) }
}

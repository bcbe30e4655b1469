import AuditLog
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The cosignatures a log's state directory holds, beside its database: `STATE/cosignatures.json`,
/// the newest cosignature of each witness key (a witness re-cosigns every poll, so older ones only
/// grow the file). Written durably under an exclusive `flock` on `cosignatures.json.lock`, so the
/// gateway's route and a command in another process never lose each other's writes.
///
///     { "cosignatures": [ { "witness", "keyID", "size", "checkpoint", "line", "timestamp" } ] }
///
/// The store does not check signatures: whoever adds one has checked it (the gateway's route
/// against its trusted witness keys); whoever reads one checks it again (`CosignatureCheck`).
public struct CosignatureStore: Sendable {
    public struct Entry: Codable, Hashable, Sendable {
        /// The witness key name and hex key ID: the identity a reader pins.
        public var witness: String
        public var keyID: String
        public var size: UInt64
        /// The checkpoint body that was cosigned.
        public var checkpoint: String
        /// The note signature line, `— <name> <base64>`.
        public var line: String
        /// The cosignature's own timestamp, seconds since the epoch.
        public var timestamp: UInt64

        public init(witness: String, keyID: String, size: UInt64, checkpoint: String, line: String, timestamp: UInt64) {
            self.witness = witness
            self.keyID = keyID
            self.size = size
            self.checkpoint = checkpoint
            self.line = line
            self.timestamp = timestamp
        }
    }

    private struct File: Codable {
        var cosignatures: [Entry]
    }

    public let path: String

    public init(path: String) { self.path = path }

    /// The store of a log's state directory.
    public init(stateDirectory: String) { self.init(path: "\(stateDirectory)/cosignatures.json") }

    public func entries() throws -> [Entry] {
        guard FileManager.default.fileExists(atPath: self.path) else { return [] }
        do {
            return try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: self.path)))
                .cosignatures
        } catch {
            throw WitnessError(.stateFile, "\(self.path): unreadable (\(error))")
        }
    }

    /// The cosignature lines stored for exactly this checkpoint body.
    public func lines(for body: String) throws -> [String] {
        try self.entries().filter { $0.checkpoint == body }.map(\.line)
    }

    /// `note` (a signed checkpoint note with body `body`) with the stored cosignature lines for
    /// that body appended: what `GET /v1/audit/checkpoint` serves.
    public func cosignedNote(_ note: String, body: String) throws -> String {
        let present = Set(CosignatureCheck.signatureLines(of: note))
        let extra = try self.lines(for: body).filter { !present.contains($0) }
        return extra.isEmpty ? note : note + extra.map { $0 + "\n" }.joined()
    }

    /// Keeps `entry` as its witness's newest cosignature unless a newer (larger, or same size and
    /// later) one is stored already.
    public func add(_ entry: Entry) throws {
        try self.locked {
            var entries = try self.entries()
            if let old = entries.first(where: { $0.witness == entry.witness && $0.keyID == entry.keyID }),
                (old.size, old.timestamp) >= (entry.size, entry.timestamp)
            {
                return
            }
            entries.removeAll { $0.witness == entry.witness && $0.keyID == entry.keyID }
            entries.append(entry)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            do {
                let data = try encoder.encode(File(cosignatures: entries))
                try StateFiles.replaceDurably(Array(data), at: self.path, permissions: 0o644)
            } catch {
                throw WitnessError(.stateFile, "\(self.path): cannot write (\(error))")
            }
        }
    }

    private func locked<T>(_ body: () throws -> T) throws -> T {
        let fd = open("\(self.path).lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw WitnessError(.stateFile, "\(self.path).lock: cannot open (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else {
            throw WitnessError(.stateFile, "\(self.path).lock: cannot lock (\(String(cString: strerror(errno))))")
        }
        return try body()
    }
}

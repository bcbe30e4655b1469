import AuditLog
import Foundation

/// The witness's state file: one record per log origin, JSON, written durably (temporary file,
/// fsync, rename, fsync of the directory) before any cosignature leaves the process.
///
///     { "version": 1, "logs": { "<origin>": { "origin", "size", "rootHash", "cosignedAt", "refusal"? } } }
///
/// An operator resets a halted log by removing its entry (or the file): the witness then trusts
/// the log's next checkpoint on first use, so do it only once the fork or rollback is explained.
public struct WitnessStateFile: Codable, Hashable, Sendable {
    public static let version = 1
    public var version: Int
    public var logs: [String: WitnessRecord]

    public init(logs: [String: WitnessRecord] = [:]) {
        self.version = Self.version
        self.logs = logs
    }

    /// Loads `path`; an absent file is an empty state (a new witness).
    public static func load(path: String) throws -> WitnessStateFile {
        guard FileManager.default.fileExists(atPath: path) else { return WitnessStateFile() }
        let state: WitnessStateFile
        do {
            state = try JSONDecoder().decode(Self.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw WitnessError(.stateFile, "witness state \(path): unreadable (\(error)); restore it from a backup")
        }
        guard state.version == Self.version else {
            throw WitnessError(.stateFile, "witness state \(path): version \(state.version), expected \(Self.version)")
        }
        for (origin, record) in state.logs where record.origin != origin || Data(base64Encoded: record.rootHash) == nil
        {
            throw WitnessError(.stateFile, "witness state \(path): the record for \(origin) is malformed")
        }
        return state
    }

    /// Writes the state durably (mode 0600).
    public func save(path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try StateFiles.replaceDurably(Array(try encoder.encode(self)), at: path, permissions: 0o600)
        } catch {
            throw WitnessError(.stateFile, "witness state \(path): cannot write (\(error))")
        }
    }
}

import Foundation

/// `manifest.json`, the last file written into a backup: what it holds and how to check it.
///
///     { "format": 1, "createdAt": "2026-…Z", "medtunnelVersion": "…", "stateDirectory": "/var/lib/…",
///       "audit": { "origin": "…", "treeSize": 1234, "rootHash": "<hex>" },
///       "files": [ { "name": "accounts.sqlite", "kind": "sqlite", "size": 4096, "sha256": "<hex>" }, … ] }
///
/// The audit log's size and root are computed from the backed-up copy (by `LogVerifier`, which
/// checks every entry, node and checkpoint), so they say what a restore brings back.
public struct BackupManifest: Codable, Hashable, Sendable {
    public static let fileName = "manifest.json"
    public static let currentFormat = 1

    public struct AuditSummary: Codable, Hashable, Sendable {
        public var origin: String
        public var treeSize: UInt64
        /// Hex, as `audit verify` prints it.
        public var rootHash: String
    }

    public struct File: Codable, Hashable, Sendable {
        public enum Kind: String, Codable, Hashable, Sendable {
            /// A SQLite database, copied with the online backup API (a single file, journal_mode=DELETE).
            case sqlite
            /// A key or small state file, copied as it is.
            case file
        }
        public var name: String
        public var kind: Kind
        public var size: UInt64
        /// Hex SHA-256 of the file's bytes.
        public var sha256: String
    }

    public var format: Int
    public var createdAt: String
    public var medtunnelVersion: String
    public var stateDirectory: String
    public var audit: AuditSummary
    public var files: [File]

    public static let auditDatabase = "audit.sqlite"

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads `DIR/manifest.json`; `.notABackup` naming it when it is absent or malformed.
    public static func load(backup: String) throws(StateBackupError) -> BackupManifest {
        let path = "\(backup)/\(Self.fileName)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StateBackupError(
                .notABackup,
                "\(path): no manifest: \(backup) is not a complete backup (an interrupted one is left as DEST.partial)",
                fileName: Self.fileName
            )
        }
        let manifest: BackupManifest
        do {
            manifest = try JSONDecoder().decode(Self.self, from: data)
        } catch {
            throw StateBackupError(.notABackup, "\(path): not a backup manifest", fileName: Self.fileName)
        }
        guard manifest.format == Self.currentFormat else {
            throw StateBackupError(
                .notABackup,
                "\(path): manifest format \(manifest.format); this medtunnel reads format \(Self.currentFormat)",
                fileName: Self.fileName
            )
        }
        for file in manifest.files where !BackupFiles.isPlainName(file.name) || file.name == Self.fileName {
            throw StateBackupError(.mismatch, "\(path): lists an invalid file name", fileName: Self.fileName)
        }
        return manifest
    }
}

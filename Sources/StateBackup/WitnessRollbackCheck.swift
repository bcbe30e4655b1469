import AuditLog
import AuditWitness
import Foundation

/// Whether restoring a backup would roll the audit log back behind what a witness has seen.
///
/// A witness remembers the largest tree it cosigned (or accepted). A log restored to fewer
/// entries, or to the same number with another root, is to that witness a rollback or a fork:
/// it refuses every later checkpoint of the log. Both witness state formats are read: the
/// `medtunnel witness` state file (`WitnessStateFile`, one record per origin) and the
/// `audit verify --witness` file (`WitnessState`, one log).
public enum WitnessRollbackCheck {
    /// What the witness saw of one log.
    public struct Witnessed: Sendable, Hashable {
        public var size: UInt64
        public var rootHash: [UInt8]?
    }

    /// The verdict on a restore of `backup` (tree size and root).
    public enum Verdict: Sendable, Hashable {
        /// The witness saw no more than the backup holds (or never saw this log).
        case consistent
        /// The witness cosigned a larger tree than the backup's.
        case rollback(witnessed: UInt64)
        /// The witness cosigned the backup's size with another root.
        case fork(witnessed: UInt64)
    }

    /// Reads the state file at `path` for the log `origin`; nil when it holds no record of it.
    public static func witnessed(statePath path: String, origin: String) throws(StateBackupError) -> Witnessed? {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StateBackupError(.notABackup, "--witness-state \(path): no such file")
        }
        if let file = try? WitnessStateFile.load(path: path), !file.logs.isEmpty || Self.isStateFile(path) {
            guard let record = file.logs[origin] else { return nil }
            return Witnessed(size: record.size, rootHash: Data(base64Encoded: record.rootHash).map { Array($0) })
        }
        if let state = try? Witness.load(path: path) {
            guard state.origin == origin else { return nil }
            return Witnessed(size: state.size, rootHash: Self.unhex(state.rootHash))
        }
        throw StateBackupError(
            .notABackup,
            "--witness-state \(path): not a witness state file (the --state of `medtunnel witness`, or the "
                + "--witness file of `medtunnel audit verify`)"
        )
    }

    public static func check(backupSize: UInt64, backupRoot: [UInt8], witnessed: Witnessed?) -> Verdict {
        guard let witnessed else { return .consistent }
        if witnessed.size > backupSize { return .rollback(witnessed: witnessed.size) }
        if witnessed.size == backupSize, let root = witnessed.rootHash, root != backupRoot {
            return .fork(witnessed: witnessed.size)
        }
        return .consistent
    }

    /// A `WitnessStateFile` has a top-level "logs" object; the other format does not.
    private static func isStateFile(_ path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return false }
        return object["logs"] != nil
    }

    static func unhex(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard bytes.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 2)
        var index = 0
        while index < bytes.count {
            guard let byte = UInt8(String(decoding: bytes[index..<index + 2], as: UTF8.self), radix: 16) else {
                return nil
            }
            out.append(byte)
            index += 2
        }
        return out
    }
}

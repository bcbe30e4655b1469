import Foundation

/// What a witness remembers: the last checkpoint it accepted and the key and origin it pinned.
public struct WitnessState: Codable, Hashable, Sendable {
    public var origin: String
    public var verifierKey: String
    public var size: UInt64
    /// Hex.
    public var rootHash: String
    public var note: String
}

/// A witness: accepts a newer checkpoint only if it extends the one it remembers.
///
/// Refuses a rollback (a smaller size) and a fork (the same size with another root, or a larger
/// size whose consistency proof from the remembered checkpoint does not verify).
public enum Witness {
    /// Checks `note` (signed by `verifier`) against `state` and returns the new state.
    /// `consistencyProof` must prove `state`'s tree a prefix of the note's tree.
    public static func update(
        _ state: WitnessState?,
        note: String,
        verifier: NoteVerifier,
        consistencyProof: [[UInt8]]
    ) throws -> WitnessState {
        let checkpoint = try verifier.verifyCheckpoint(note: note, context: "checkpoint")
        let context = "checkpoint \(checkpoint.size)"
        let accepted = WitnessState(
            origin: checkpoint.origin,
            verifierKey: verifier.verifierKey,
            size: checkpoint.size,
            rootHash: hex(checkpoint.rootHash),
            note: note
        )
        guard let state else { return accepted }
        guard state.verifierKey == verifier.verifierKey else {
            throw AuditLogError(
                .fork,
                "\(context): signed by \(verifier.verifierKey), the witness pinned \(state.verifierKey)"
            )
        }
        guard state.origin == checkpoint.origin else {
            throw AuditLogError(.fork, "\(context): origin \(checkpoint.origin), the witness pinned \(state.origin)")
        }
        guard checkpoint.size >= state.size else {
            throw AuditLogError(
                .rollback,
                "\(context): smaller than the witnessed size \(state.size): the log was rolled back or truncated"
            )
        }
        guard let oldRoot = unhex(state.rootHash) else {
            throw AuditLogError(.witnessFile, "witness state: root \"\(state.rootHash)\" is not hex")
        }
        if checkpoint.size == state.size {
            guard oldRoot == checkpoint.rootHash else {
                throw AuditLogError(.fork, "\(context): same size as witnessed but another root: the log forked")
            }
            return state
        }
        do {
            try MerkleProof.verifyConsistency(
                oldSize: state.size,
                newSize: checkpoint.size,
                oldRoot: oldRoot,
                newRoot: checkpoint.rootHash,
                proof: consistencyProof
            )
        } catch let error as AuditLogError {
            throw AuditLogError(.fork, "\(context): not an extension of witnessed size \(state.size): \(error.reason)")
        }
        return accepted
    }

    /// Loads a witness state file; nil if it does not exist yet.
    public static func load(path: String) throws -> WitnessState? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(WitnessState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw AuditLogError(.witnessFile, "witness state \(path): unreadable (\(error))")
        }
    }

    /// Saves a witness state file atomically (write, fsync, rename).
    public static func save(_ state: WitnessState, path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try StateFiles.writeDurably(try encoder.encode(state), to: path, mode: 0o644)
        } catch {
            throw AuditLogError(.witnessFile, "witness state \(path): cannot write (\(error))")
        }
    }
}

func unhex(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    for pair in stride(from: 0, to: digits.count, by: 2) {
        guard let high = hexValue(digits[pair]), let low = hexValue(digits[pair + 1]) else { return nil }
        out.append(high << 4 | low)
    }
    return out
}

private func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case 0x30...0x39: digit - 0x30
    case 0x61...0x66: digit - 0x61 + 10
    case 0x41...0x46: digit - 0x41 + 10
    default: nil
    }
}

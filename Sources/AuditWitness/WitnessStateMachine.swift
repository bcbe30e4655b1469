public import AuditLog
import Foundation

/// The witness's decision for one log, with no I/O: a checkpoint note (and, when needed, a
/// consistency proof) in, what to do out. Time is passed in. The caller persists the record an
/// action carries before it signs, so a cosigned size is never forgotten.
///
///     new ──note──────────────────────────────▶ cosign (trust on first use)
///     following ──note, same size, same root──▶ cosign again (a fresh timestamp)
///     following ──note, larger───▶ fetchProof ──proof verifies──▶ cosign
///     following ──note, smaller────────────────────────────────▶ halt(rollback)
///     following ──note, same size, other root──────────────────▶ halt(fork)
///     awaitingProof ──proof fails──────────────────────────────▶ halt(fork)
///     any ──note badly signed / other origin──▶ refuse (stay; a forger in the path is not the log)
///     halted ──anything──▶ refuse(halted)
public struct WitnessStateMachine: Sendable {
    enum State: Hashable, Sendable {
        case new
        case following(WitnessRecord)
        case awaitingProof(WitnessRecord, candidate: Checkpoint, note: String)
        case halted(WitnessRecord)
    }

    public enum Action: Hashable, Sendable {
        /// Fetch a consistency proof between these sizes and call `proofArrived`.
        case fetchProof(from: UInt64, to: UInt64)
        /// Persist `record`, then cosign `checkpoint` as of the record's `cosignedAt`.
        case cosign(Checkpoint, record: WitnessRecord)
        /// Nothing cosigned this time; the record is unchanged.
        case refuse(WitnessError)
        /// Persist `record` (it carries the refusal), raise the alarm, never cosign this log again.
        case halt(WitnessError, record: WitnessRecord)
    }

    public let origin: String
    public let logKey: NoteVerifier
    private(set) var state: State

    /// `record` is what the state file holds for `origin` (nil: never seen).
    public init(origin: String, logKey: NoteVerifier, record: WitnessRecord?) {
        self.origin = origin
        self.logKey = logKey
        switch record {
        case nil: self.state = .new
        case let record? where record.refusal != nil: self.state = .halted(record)
        case let record?: self.state = .following(record)
        }
    }

    /// Why nothing is cosigned any more, once the log was caught; nil otherwise.
    public var haltedError: WitnessError? {
        guard case .halted(let record) = self.state, let refusal = record.refusal else { return nil }
        return WitnessError(
            .halted,
            "\(self.origin): refused since \(refusal.at) (\(refusal.code): \(refusal.reason)); nothing is cosigned until an operator resets the witness state"
        )
    }

    /// The log's latest signed checkpoint note arrived.
    public mutating func noteArrived(_ note: String, now: UInt64) -> Action {
        let record: WitnessRecord?
        switch self.state {
        case .halted:
            return .refuse(self.haltedError!)
        case .awaitingProof(let waiting, _, _):
            preconditionFailure("noteArrived while awaiting a proof for \(waiting.origin)")
        case .new: record = nil
        case .following(let following): record = following
        }
        let checkpoint: Checkpoint
        do {
            checkpoint = try self.logKey.verifyCheckpoint(note: note, context: "\(self.origin) checkpoint")
        } catch let error as AuditLogError {
            return .refuse(WitnessError(.badLogSignature, error.reason))
        } catch {
            return .refuse(WitnessError(.badLogSignature, "\(self.origin) checkpoint: \(error)"))
        }
        guard checkpoint.origin == self.origin else {
            return .refuse(
                WitnessError(
                    .wrongOrigin,
                    "checkpoint origin \"\(checkpoint.origin)\", this witness follows \"\(self.origin)\""
                )
            )
        }
        guard let record else { return self.accept(checkpoint, now: now) }
        let context = "\(self.origin) checkpoint \(checkpoint.size)"
        if checkpoint.size < record.size {
            return self.halt(
                .rollback,
                "\(context): smaller than the cosigned size \(record.size): the log was rolled back or truncated",
                record: record,
                note: note,
                now: now
            )
        }
        if checkpoint.size == record.size {
            guard Self.base64(checkpoint.rootHash) == record.rootHash else {
                return self.halt(
                    .fork,
                    "\(context): same size as cosigned but another root (\(Self.base64(checkpoint.rootHash)), cosigned \(record.rootHash)): the log forked",
                    record: record,
                    note: note,
                    now: now
                )
            }
            return self.accept(checkpoint, now: now)
        }
        // Every tree extends the empty one: nothing to prove from size 0.
        guard record.size > 0 else { return self.accept(checkpoint, now: now) }
        self.state = .awaitingProof(record, candidate: checkpoint, note: note)
        return .fetchProof(from: record.size, to: checkpoint.size)
    }

    /// The consistency proof asked for by `.fetchProof` arrived.
    public mutating func proofArrived(_ proof: [[UInt8]], now: UInt64) -> Action {
        guard case .awaitingProof(let record, let candidate, let note) = self.state else {
            preconditionFailure("proofArrived without a pending checkpoint: \(self.state)")
        }
        guard let oldRoot = Data(base64Encoded: record.rootHash) else {
            preconditionFailure("witness record root is not base64: \(record.rootHash)")
        }
        do {
            try MerkleProof.verifyConsistency(
                oldSize: record.size,
                newSize: candidate.size,
                oldRoot: Array(oldRoot),
                newRoot: candidate.rootHash,
                proof: proof
            )
        } catch {
            let reason = (error as? AuditLogError)?.reason ?? "\(error)"
            return self.halt(
                .fork,
                "\(self.origin) checkpoint \(candidate.size): not an extension of the cosigned size \(record.size) (\(reason)): the log forked",
                record: record,
                note: note,
                now: now
            )
        }
        return self.accept(candidate, now: now)
    }

    /// The proof could not be fetched (network): go back to the last cosigned tree and try later.
    public mutating func proofUnavailable() {
        guard case .awaitingProof(let record, _, _) = self.state else {
            preconditionFailure("proofUnavailable without a pending checkpoint: \(self.state)")
        }
        self.state = .following(record)
    }

    private mutating func accept(_ checkpoint: Checkpoint, now: UInt64) -> Action {
        let record = WitnessRecord(
            origin: checkpoint.origin,
            size: checkpoint.size,
            rootHash: Self.base64(checkpoint.rootHash),
            cosignedAt: now
        )
        self.state = .following(record)
        return .cosign(checkpoint, record: record)
    }

    private mutating func halt(
        _ code: WitnessError.Code,
        _ reason: String,
        record: WitnessRecord,
        note: String,
        now: UInt64
    ) -> Action {
        var halted = record
        halted.refusal = .init(code: code.name, reason: reason, at: now, evidence: note)
        self.state = .halted(halted)
        return .halt(WitnessError(code, reason), record: halted)
    }

    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}

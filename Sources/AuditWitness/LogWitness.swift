public import AuditLog
import Foundation

/// A witness of one log: each `poll` fetches the log's latest checkpoint, runs it through the
/// `WitnessStateMachine`, and executes its actions: fetch a proof, persist the record, cosign,
/// submit. The state file is the only memory between polls (and process restarts).
public struct LogWitness: Sendable {
    public enum Outcome: Hashable, Sendable {
        /// Cosigned and handed to the log; `line` is the note signature line.
        case cosigned(Checkpoint, line: String)
        /// Nothing cosigned this time (a bad signature, another origin, an unreachable log, or
        /// this log was halted earlier); the witness may poll again.
        case refused(WitnessError)
        /// The log was caught (rollback or fork): recorded durably, never cosigned again.
        case halted(WitnessError)
    }

    public let origin: String
    public let logKey: NoteVerifier
    public let cosigner: Cosigner
    public let statePath: String
    public let client: WitnessLogClient

    public init(origin: String, logKey: NoteVerifier, cosigner: Cosigner, statePath: String, client: WitnessLogClient) {
        self.origin = origin
        self.logKey = logKey
        self.cosigner = cosigner
        self.statePath = statePath
        self.client = client
    }

    /// One round. `now` is seconds since the epoch, the cosignature's timestamp.
    public func poll(now: UInt64) async -> Outcome {
        do {
            return try await self.round(now: now)
        } catch let error as WitnessError {
            return .refused(error)
        } catch let error as AuditLogError {
            return .refused(WitnessError(.logUnreachable, "\(self.origin): \(error.reason)"))
        } catch {
            return .refused(WitnessError(.logUnreachable, "\(self.origin): \(error)"))
        }
    }

    private func round(now: UInt64) async throws -> Outcome {
        var state = try WitnessStateFile.load(path: self.statePath)
        var machine = WitnessStateMachine(origin: self.origin, logKey: self.logKey, record: state.logs[self.origin])
        // Do not even ask the log: a halted witness says why, every time it is asked.
        if let halted = machine.haltedError { return .refused(halted) }
        let note = try await self.fetch { try await self.client.latestCheckpoint() }
        var action = machine.noteArrived(note, now: now)
        if case .fetchProof(let from, let to) = action {
            let proof: [[UInt8]]
            do {
                proof = try await self.fetch { try await self.client.consistencyProof(from, to) }
            } catch {
                machine.proofUnavailable()
                throw error
            }
            action = machine.proofArrived(proof, now: now)
        }
        switch action {
        case .fetchProof:
            preconditionFailure("the state machine asked for a second proof in one round")
        case .refuse(let error):
            return .refused(error)
        case .halt(let error, let record):
            state.logs[self.origin] = record
            try state.save(path: self.statePath)
            return .halted(error)
        case .cosign(let checkpoint, let record):
            // Durable before the signature leaves: a restarted witness must never cosign a tree
            // that does not extend one it already vouched for.
            state.logs[self.origin] = record
            try state.save(path: self.statePath)
            let line = try self.cosigner.cosign(body: checkpoint.body, timestamp: record.cosignedAt)
            let submission = WitnessLogClient.Submission(
                checkpoint: checkpoint,
                line: line,
                by: self.cosigner.verifier,
                timestamp: record.cosignedAt
            )
            do {
                try await self.client.submit(submission)
            } catch let error as WitnessError {
                return .refused(error)
            } catch {
                return .refused(WitnessError(.submitFailed, "\(self.origin): \(error)"))
            }
            return .cosigned(checkpoint, line: line)
        }
    }

    private func fetch<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as WitnessError {
            throw error
        } catch let error as AuditLogError {
            throw WitnessError(.logUnreachable, "\(self.origin): \(error.reason)")
        } catch {
            throw WitnessError(.logUnreachable, "\(self.origin): \(error)")
        }
    }
}

public import AuditLog
import SQLiteStore

/// A lockout command's sequence and audit entry, as `recordSentTakingSequence` took them.
public struct LockoutSent: Sendable, Hashable {
    public let sequence: UInt64
    public let auditIndex: UInt64
}

/// The steps on a database shared with the audit log (PostgreSQL, several gateway nodes): one
/// transaction takes the log's head lock, checks the step against the rows as they are now,
/// writes the rows and the entry, notifies every node and commits.
///
/// - The check before the step (`requestLift`, `confirmLift`) is a fast answer on this node's
///   view; this one, under the lock, is the one that counts: two incident users confirming one
///   lift on two nodes at once end with one `lockout.lifted`, the other refused `alreadyLifted`.
/// - A refused step writes nothing, neither entry nor rows.
/// - A crash or a lost connection before the commit leaves neither entry nor rows: nothing to
///   roll forward at restart, so no recovery floor.
/// - A step that fails leaves the lockouts in memory as the database has them: as read under
///   the lock before the step changed them (what other nodes did is then known here too), or
///   as they were before the step if it failed before that read.
extension LockoutStore {
    /// A lockout command about to be sent to `serial`: takes the pump's next sequence (the
    /// change store's counter, in this same database) and writes `lockout.sent` in one
    /// transaction under the log's head lock, as the change store's `markSent` checks its own
    /// sequence under that lock: no sequence is given twice, whichever node sends. Only on a
    /// shared store (`isShared`); on SQLite the change store's counter is raised first and
    /// `recordSent` records it.
    public func recordSentTakingSequence(
        serial: String,
        command: LockoutCommand,
        lockouts: [LockoutID],
        now: Int64
    ) throws(LockoutError) -> LockoutSent {
        guard let shared else {
            throw LockoutError(
                .storageFailure,
                "\(path): a lockout command's sequence is taken here only on a shared database; on SQLite raise the "
                    + "change store's counter and call recordSent"
            )
        }
        var record = LockoutAuditRecord(op: .sent, at: now)
        record.serial = serial
        record.command = command.rawValue
        record.lockoutIds = lockouts.map(\.rawValue)
        let (index, taken) = try stepShared(record, actor: Self.gateway, in: shared)
        guard let sequence = taken.sequence else {
            preconditionFailure("a shared lockout.sent step took no sequence for \(serial)")
        }
        return LockoutSent(sequence: sequence, auditIndex: index)
    }

    /// Tests only: the next step stops after its entry is written, before its commit.
    func simulateCrashBeforeCommit() { crashBeforeCommit = true }

    /// One step in one transaction (see the extension's comment). Returns the entry's index and
    /// the record as written (a `sent` without a sequence gets the pump's next one).
    func stepShared(
        _ record: LockoutAuditRecord,
        actor: AuditActor,
        in database: any SharedAuditDatabase
    ) throws(LockoutError) -> (index: UInt64, record: LockoutAuditRecord) {
        var record = record
        var before = lockouts
        do {
            var entryIndex: UInt64 = 0
            let index = try database.appendingStep(
                to: audit,
                beforeCommit: {
                    if crashBeforeCommit {
                        // As a process killed here: the transaction never commits.
                        throw LockoutError(.storageFailure, "simulated crash before the commit of entry \(entryIndex)")
                    }
                    switch record.op {
                    case .start, .liftRequest, .lift:
                        // Every node re-reads the lockouts and tells its connected pumps.
                        try database.notify(Self.lockoutChannel, [record.lockoutId ?? "*"])
                    case .sent, .acknowledged:
                        break  // read from the tables when needed; nothing for other nodes to redo
                    }
                }
            ) { index in
                entryIndex = index
                switch record.op {
                case .start, .liftRequest, .lift:
                    lockouts = try LockoutSchema.loadLockouts(database)
                    before = lockouts  // committed rows, read under the lock
                case .sent, .acknowledged:
                    break  // reads no lockout
                }
                try recheck(&record, actor: actor, in: database)
                try apply(record, actor: actor, auditIndex: index)
                return (try record.auditEvent(actor: actor), ())
            }.auditIndex
            return (index, record)
        } catch let error as LockoutError {
            lockouts = before
            throw error
        } catch let error as AuditLogError where error.code == .databaseUnavailable {
            lockouts = before
            throw LockoutError(
                .databaseUnavailable,
                "the database was lost during the \(record.op.kind) step; it may or may not be recorded (GET "
                    + "/v1/lockouts tells): \(error.reason)"
            )
        } catch {
            lockouts = before
            let reason = (error as? SQLiteError)?.reason ?? "\(error)"
            throw LockoutError(.storageFailure, "\(path): the \(record.op.kind) step was not recorded: \(reason)")
        }
    }

    /// Under the head lock, the lockouts just read again: the step checked against them (a
    /// refusal throws its own error), a `sent` given its sequence.
    private func recheck(
        _ record: inout LockoutAuditRecord,
        actor: AuditActor,
        in database: any SharedAuditDatabase
    ) throws {
        switch record.op {
        case .liftRequest, .lift:
            guard let text = record.lockoutId, let id = LockoutID(text), let current = lockout(id) else {
                throw LockoutError(
                    .notFound,
                    "no lockout \(record.lockoutId ?? "(none)"); GET /v1/lockouts lists them"
                )
            }
            if record.op == .liftRequest {
                try Self.checkLiftRequest(current)
            } else {
                record.requestedBy = try Self.checkLiftConfirmation(current, by: actor)
            }
        case .sent:
            guard let serial = record.serial else { break }
            if let sequence = record.sequence {
                // A caller's own number: the counter is kept past it, so nothing reuses it.
                try LockoutSchema.raiseSequence(database, serial: serial, to: sequence)
            } else {
                record.sequence = try LockoutSchema.takeSequence(database, serial: serial)
            }
        case .start, .acknowledged:
            break
        }
    }
}

import AuditLog
import SQLiteStore

/// The group commit of a store shared with the audit log (PostgreSQL, several gateway nodes):
/// one transaction takes the log's head lock, applies each step in a savepoint against the rows
/// as they are now, appends the entries of the steps that applied, and commits.
///
/// - A step another node made illegal meanwhile (a request cancelled there, a therapy version
///   written there) is refused with its own error and writes nothing, in the log or the rows;
///   the others in the batch go on. The check before the step (in `ChangeRequestStore+…`) is a
///   fast answer; this one, under the lock, is the one that counts.
/// - A crash or a lost connection before the commit leaves neither entry nor rows, so there is
///   nothing to roll forward at restart, and no recovery floor.
/// - A commit cut off with the database has an unknown outcome: its callers get
///   `databaseUnavailable` saying so. A client's retry with the same idempotency key finds the
///   request if it was recorded; a send recorded but never written is settled from the pump's
///   next hello, as any command whose session ended.
extension ChangeRequestStore {
    func commitShared(
        _ batch: [StepWaiter],
        in database: any SharedAuditDatabase
    ) -> [Result<ChangeRequest?, ChangeRequestError>] {
        var results: [Result<ChangeRequest?, ChangeRequestError>] = []
        do {
            try database.writeTransaction {
                results = []
                let tip = try database.lockAuditTip()
                var events: [AuditEvent] = []
                var queues: Set<String> = []
                // A step alone needs no savepoint (two round trips under the lock): when it is
                // refused, the whole transaction is rolled back instead.
                let alone = batch.count == 1
                for waiter in batch {
                    if !alone { try database.execute("SAVEPOINT step") }
                    do {
                        let stored = try apply(waiter.step.rereading, auditIndex: tip.size + UInt64(events.count))
                        if !alone { try database.execute("RELEASE SAVEPOINT step") }
                        events.append(waiter.event)
                        results.append(.success(stored))
                        // Queued: the node with the pump's session delivers it. Uncertain (a
                        // session that ended late, here): that node settles it from its hello.
                        if let stored, [.queued, .cancelled, .uncertain].contains(stored.state) {
                            queues.insert(stored.pumpSerial)
                        }
                    } catch let error as ChangeRequestError {
                        if alone { throw RefusedAlone(error: error) }
                        try database.execute("ROLLBACK TO SAVEPOINT step")
                        results.append(.failure(error))
                    } catch let error as SQLiteError {
                        let refusal = ChangeRequestError(.storageFailure, "\(path): \(error.reason)")
                        if alone { throw RefusedAlone(error: refusal) }
                        try database.execute("ROLLBACK TO SAVEPOINT step")
                        results.append(.failure(refusal))
                    }
                }
                guard !events.isEmpty else { return }
                let (auditBatch, _) = try audit.batch(appending: events, at: tip)
                try database.insertAudit(auditBatch)
                if crashPoint == .afterAuditAppend {
                    // As a process killed here: the transaction never commits.
                    failure = "simulated crash before the commit of entries from \(tip.size)"
                    throw ChangeRequestError(.storeUnavailable, failure ?? "")
                }
                try database.notify(Self.queueChannel, queues.sorted())
            }
        } catch let refused as RefusedAlone {
            // Rolled back: nothing of the step was written, as after a savepoint's rollback.
            results = [.failure(refused.error)]
        } catch let error as AuditLogError where error.code == .databaseUnavailable {
            return batch.map { waiter in
                .failure(
                    ChangeRequestError(
                        .databaseUnavailable,
                        "the database was lost during the \(waiter.event.kind) step; it may or may not be recorded "
                            + "(a retry with the same idempotency key tells): \(error.reason)"
                    )
                )
            }
        } catch {
            let reason = (error as? SQLiteError)?.reason ?? "\(error)"
            return batch.map { waiter in
                .failure(
                    ChangeRequestError(
                        .storageFailure,
                        "\(path): the \(waiter.event.kind) step was not recorded: \(reason)"
                    )
                )
            }
        }
        committed(batch, results)
        return results
    }
}

/// A batch's only step, refused under the lock: thrown out of the transaction to roll it back.
private struct RefusedAlone: Error {
    let error: ChangeRequestError
}

extension StoreStep {
    /// The step with the request read again inside the transaction, not as the caller saw it
    /// before: another node may have moved it since.
    var rereading: StoreStep {
        guard case .change(let event, let actor, _) = self else { return self }
        return .change(event, actor, current: nil)
    }
}

import AuditLog
import SQLiteStore

/// What a step writes to the store once its audit entry is durable.
enum StoreStep: Sendable {
    /// A change-request step; `current` is the request before it, when the caller holds it.
    case change(ChangeRequestEvent, ChangeActor, current: ChangeRequest?)
    case therapy(PumpTherapyEvent, ChangeActor)
    case binding(PumpBindingEvent, ChangeActor)
}

/// A step waiting in the store's group-commit queue.
struct StepWaiter: Sendable {
    enum Role: Sendable {
        case done(Result<ChangeRequest?, ChangeRequestError>)
        case lead
    }

    let token: UInt64
    /// The entry's index; for a shared store, where the entry is written with the rows, 0 (the
    /// commit gives it).
    let index: UInt64
    let event: AuditEvent
    let step: StoreStep
    let continuation: CheckedContinuation<Role, Never>
}

/// The audited step: append to the audit log, then commit to the store, group-committed.
///
/// Steps whose audit entries became durable while the store was committing are applied together
/// in the next transaction (one fsync for all), each inside its own savepoint: the first step to
/// find the store idle leads the commit, later ones wait, and the lead passes to the next waiter,
/// as `AuditLog` does for its appends. Every caller returns only once its own step is durable.
extension ChangeRequestStore {
    /// The most steps one store transaction takes.
    static let maximumBatch = 512

    /// Appends `event` to the audit log, then applies `step` with the entry's index (see the
    /// type's comment for why in this order, and `recover()` for a crash in between). Returns the
    /// request as stored after a change-request step.
    @discardableResult
    func record(_ event: AuditEvent, _ step: StoreStep) async throws -> ChangeRequest? {
        try checkAvailable()
        if shared != nil { return try await enqueue(event, step, token: takeToken(), index: 0) }
        let token = takeToken()
        defer { inflightFloors[token] = nil }
        // This writer's size is a lower bound of the index the entry gets: a safe floor.
        inflightFloors[token] = await audit.size
        let index: UInt64
        do {
            index = try await audit.append(event).index
        } catch let error as AuditLogError where error.code == .databaseUnavailable {
            throw ChangeRequestError(
                .databaseUnavailable,
                "the audit log's database is unavailable; nothing changed (\(event.kind)): \(error.reason)"
            )
        } catch {
            throw ChangeRequestError(
                .auditFailed,
                "the audit log refused the \(event.kind) entry; nothing changed: \(error)"
            )
        }
        if crashPoint == .afterAuditAppend {
            failure = "simulated crash after the audit append of entry \(index)"
            throw ChangeRequestError(.storeUnavailable, failure ?? "")
        }
        return try await enqueue(event, step, token: token, index: index)
    }

    private func takeToken() -> UInt64 {
        defer { nextStepToken += 1 }
        return nextStepToken
    }

    /// Waits in the group-commit queue: the first step to find the store idle leads the commit.
    private func enqueue(
        _ event: AuditEvent,
        _ step: StoreStep,
        token: UInt64,
        index: UInt64
    ) async throws
        -> ChangeRequest?
    {
        let role: StepWaiter.Role = await withCheckedContinuation { continuation in
            let waiter = StepWaiter(token: token, index: index, event: event, step: step, continuation: continuation)
            if committing {
                waitingSteps.append(waiter)
            } else {
                committing = true
                waitingSteps.insert(waiter, at: 0)
                continuation.resume(returning: .lead)
            }
        }
        switch role {
        case .done(let result):
            return try result.get()
        case .lead:
            return try await leadCommit(token)
        }
    }

    /// Commits the waiting steps (this leader's first) and wakes their callers.
    private func leadCommit(_ ownToken: UInt64) async throws -> ChangeRequest? {
        // Let steps whose audit entries just became durable join this transaction.
        await Task.yield()
        let batch = Array(waitingSteps.prefix(Self.maximumBatch))
        waitingSteps.removeFirst(batch.count)
        let results = shared.map { commitShared(batch, in: $0) } ?? commit(batch)
        var own: Result<ChangeRequest?, ChangeRequestError> = .success(nil)
        for (waiter, result) in zip(batch, results) {
            if waiter.token == ownToken {
                own = result
            } else {
                waiter.continuation.resume(returning: .done(result))
            }
        }
        if waitingSteps.isEmpty {
            committing = false
        } else {
            waitingSteps[0].continuation.resume(returning: .lead)
        }
        return try own.get()
    }

    /// One transaction for `batch`, each step in a savepoint; moves the recovery floor.
    private func commit(_ batch: [StepWaiter]) -> [Result<ChangeRequest?, ChangeRequestError>] {
        var results: [Result<ChangeRequest?, ChangeRequestError>] = []
        do {
            try checkAvailable()
            try connection.writeTransaction {
                for waiter in batch {
                    try connection.execute("SAVEPOINT step")
                    do {
                        let stored = try apply(waiter.step, auditIndex: waiter.index)
                        try connection.execute("RELEASE step")
                        results.append(.success(stored))
                    } catch let error as ChangeRequestError {
                        try connection.execute("ROLLBACK TO step; RELEASE step")
                        failure = "audit entry \(waiter.index) is in the log but contradicts the store: \(error.reason)"
                        results.append(.failure(self.unavailable()))
                    }
                }
                let committed = Set(batch.map(\.token))
                let others = inflightFloors.filter { !committed.contains($0.key) }.values.min() ?? UInt64.max
                let highest = batch.map(\.index).max() ?? 0
                try ChangeRequestSchema.setMeta(
                    connection,
                    ChangeRequestSchema.recoveryFloorKey,
                    min(others, highest + 1)
                )
            }
            committed(batch, results)
            return results
        } catch {
            therapyCache.removeAll()
            failure = failure ?? "audit entries \(batch.map(\.index)) are in the log but could not be stored: \(error)"
            return batch.map { _ in .failure(self.unavailable()) }
        }
    }

    /// Counts a committed transaction and tells the observer of its change-request steps.
    func committed(_ batch: [StepWaiter], _ results: [Result<ChangeRequest?, ChangeRequestError>]) {
        commitCount += 1
        guard let observer = stepObserver else { return }
        for result in results {
            guard case .success(let stored?) = result, let last = stored.history.last else { continue }
            // The transitions this step added: a step's transitions share its audit entry.
            observer(stored, stored.history.filter { $0.auditIndex == last.auditIndex })
        }
    }

    func apply(_ step: StoreStep, auditIndex: UInt64) throws -> ChangeRequest? {
        switch step {
        case .change(let event, let actor, let current):
            return try apply(event, actor: actor, auditIndex: auditIndex, current: current)
        case .therapy(let event, let actor):
            try applyTherapy(event, actor: actor, auditIndex: auditIndex)
            return nil
        case .binding(let event, let actor):
            try applyBinding(event, actor: actor, auditIndex: auditIndex)
            return nil
        }
    }

    private func unavailable() -> ChangeRequestError {
        ChangeRequestError(
            .storeUnavailable,
            "\(failure ?? "the store stopped"); restart the gateway so recovery completes it from the log"
        )
    }
}

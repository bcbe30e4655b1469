public import AuditLog
import Foundation
import SQLiteStore

/// The steps: each checked, appended to the audit log (durable), then applied to the store.
extension LockoutStore {
    /// Starts a lockout over `scope` for `reason` (required). Returns it once `lockout.started` is
    /// durable in the audit log and stored: only then may anything be sent for it.
    public func start(
        scope: LockoutScope,
        reason: String,
        suspendDelivery: Bool,
        by actor: AuditActor,
        now: Int64
    ) async throws(LockoutError) -> Lockout {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else {
            throw LockoutError(.emptyReason, "a lockout needs a reason: say what happened (it goes into the audit log)")
        }
        guard reason.utf8.count <= Lockout.maximumReasonLength else {
            throw LockoutError(
                .emptyReason,
                "the reason is longer than \(Lockout.maximumReasonLength) bytes; shorten it"
            )
        }
        var record = LockoutAuditRecord(op: .start, at: now)
        record.lockoutId = LockoutID.random().rawValue
        record.scope = scope.description
        record.reason = reason
        record.suspendDelivery = suspendDelivery
        try await step(record, actor: actor)
        return lockout(LockoutID(record.lockoutId!)!)!
    }

    /// The first of two incident staff asks to lift lockout `id`.
    public func requestLift(_ id: LockoutID, by actor: AuditActor, now: Int64) async throws(LockoutError) -> Lockout {
        try Self.checkLiftRequest(try require(id))
        var record = LockoutAuditRecord(op: .liftRequest, at: now)
        record.lockoutId = id.rawValue
        try await step(record, actor: actor)
        return try require(id)
    }

    /// A second incident user, not the one who asked, confirms the lift: the lockout ends.
    public func confirmLift(_ id: LockoutID, by actor: AuditActor, now: Int64) async throws(LockoutError) -> Lockout {
        let requestedBy = try Self.checkLiftConfirmation(try require(id), by: actor)
        var record = LockoutAuditRecord(op: .lift, at: now)
        record.lockoutId = id.rawValue
        record.requestedBy = requestedBy
        try await step(record, actor: actor)
        return try require(id)
    }

    /// Whether `current` may be asked to be lifted: neither lifted nor asked already.
    static func checkLiftRequest(_ current: Lockout) throws(LockoutError) {
        let id = current.id
        if let lifted = current.lifted {
            throw LockoutError(.alreadyLifted, "lockout \(id) was already lifted by \(lifted.actorID)")
        }
        if let requested = current.liftRequested {
            throw LockoutError(
                .liftAlreadyRequested,
                "\(requested.actorID) already asked to lift lockout \(id); another incident user confirms with "
                    + "POST /v1/lockouts/\(id)/lift/confirm"
            )
        }
    }

    /// Whether `actor` may confirm the lift of `current`; returns who asked for it.
    static func checkLiftConfirmation(_ current: Lockout, by actor: AuditActor) throws(LockoutError) -> String {
        let id = current.id
        if let lifted = current.lifted {
            throw LockoutError(.alreadyLifted, "lockout \(id) was already lifted by \(lifted.actorID)")
        }
        guard let requested = current.liftRequested else {
            throw LockoutError(
                .liftNotRequested,
                "nobody asked to lift lockout \(id) yet; one incident user asks (POST /v1/lockouts/\(id)/lift) and "
                    + "another confirms"
            )
        }
        guard requested.actorID != actor.id else {
            throw LockoutError(
                .samePerson,
                "\(actor.id) asked to lift lockout \(id) and cannot also confirm it; a different incident user "
                    + "must confirm"
            )
        }
        return requested.actorID
    }

    /// A lockout command is about to be sent to `serial` with `sequence`: returns once
    /// `lockout.sent` is durable (and stored), the audit index of the entry.
    @discardableResult
    public func recordSent(
        serial: String,
        sequence: UInt64,
        command: LockoutCommand,
        lockouts: [LockoutID],
        now: Int64
    ) async throws(LockoutError) -> UInt64 {
        var record = LockoutAuditRecord(op: .sent, at: now)
        record.serial = serial
        record.sequence = sequence
        record.command = command.rawValue
        record.lockoutIds = lockouts.map(\.rawValue)
        return try await step(record, actor: Self.gateway)
    }

    /// The pump's verified answer to a lockout command: `result` is `applied` or its refusal
    /// code; `evidence` the signed acknowledgement as received.
    @discardableResult
    public func recordAcknowledged(
        serial: String,
        sequence: UInt64,
        command: LockoutCommand,
        lockouts: [LockoutID],
        result: String,
        evidence: [UInt8],
        now: Int64
    ) async throws(LockoutError) -> UInt64 {
        var record = LockoutAuditRecord(op: .acknowledged, at: now)
        record.serial = serial
        record.sequence = sequence
        record.command = command.rawValue
        record.lockoutIds = lockouts.map(\.rawValue)
        record.result = result
        record.evidence = evidence.isEmpty ? nil : Data(evidence).base64EncodedString()
        let actor: AuditActor
        do {
            actor = try AuditActor(id: serial, role: "pump")
        } catch {
            throw LockoutError(.auditFailed, "pump \(serial) cannot be an audit actor: \(error)")
        }
        return try await step(record, actor: actor)
    }

    static let gateway = try! AuditActor(id: "gateway", role: "system")

    /// The lockout `id`; on a shared database read from it (another node may have started or
    /// lifted it since the last `refresh()`).
    func require(_ id: LockoutID) throws(LockoutError) -> Lockout {
        if shared != nil {
            let stored = try storage("read lockout \(id)") { try LockoutSchema.loadLockout(connection, id) }
            if let stored {
                if let position = lockouts.firstIndex(where: { $0.id == id }) {
                    lockouts[position] = stored
                } else {
                    lockouts.append(stored)
                }
            }
        }
        guard let found = lockout(id) else {
            throw LockoutError(.notFound, "no lockout \(id); GET /v1/lockouts lists them")
        }
        return found
    }

    // MARK: Append, then apply

    @discardableResult
    func step(_ record: LockoutAuditRecord, actor: AuditActor) async throws(LockoutError) -> UInt64 {
        if let shared { return try stepShared(record, actor: actor, in: shared).index }
        let token = nextToken
        nextToken += 1
        inflightFloors[token] = 0  // held at 0 while the size is read: no floor passes this step
        inflightFloors[token] = await audit.size
        defer { inflightFloors[token] = nil }
        let index: UInt64
        do {
            index = try await audit.append(try record.auditEvent(actor: actor)).index
        } catch {
            throw LockoutError(.auditFailed, "\(record.op.kind) not written to the audit log: \(error)")
        }
        // `sent` changes nothing here (the log keeps it): no commit, and the floor stays where it
        // is (recovery reads a little more of the log, and applies nothing from it).
        guard record.op != .sent else { return index }
        let floor = inflightFloors.filter { $0.key != token }.values.min() ?? (index + 1)
        try storage("record \(record.op.kind) at audit index \(index)") {
            try connection.writeTransaction {
                try apply(record, actor: actor, auditIndex: index)
                try LockoutSchema.raiseFloor(connection, to: floor)
            }
        }
        return index
    }

    /// Applies one record (idempotent) to the tables and the lockouts in memory.
    func apply(_ record: LockoutAuditRecord, actor: AuditActor, auditIndex: UInt64) throws {
        let step = LockoutStep(
            actorID: actor.id,
            actorRole: actor.role,
            atMilliseconds: record.at,
            auditIndex: auditIndex
        )
        switch record.op {
        case .start:
            guard let text = record.lockoutId, let id = LockoutID(text), let scopeText = record.scope,
                let scope = try? LockoutScope(parsing: scopeText), lockout(id) == nil
            else { return }
            let lockout = Lockout(
                id: id,
                scope: scope,
                reason: record.reason ?? "",
                suspendDelivery: record.suspendDelivery ?? false,
                started: step,
                liftRequested: nil,
                lifted: nil
            )
            try LockoutSchema.insert(connection, lockout)
            lockouts.append(lockout)
        case .liftRequest, .lift:
            guard let text = record.lockoutId, let id = LockoutID(text),
                let position = lockouts.firstIndex(where: { $0.id == id })
            else { return }
            var lockout = lockouts[position]
            if record.op == .liftRequest {
                guard lockout.liftRequested == nil else { return }
                lockout.liftRequested = step
            } else {
                guard lockout.lifted == nil else { return }
                lockout.lifted = step
            }
            try LockoutSchema.update(connection, lockout)
            lockouts[position] = lockout
        case .sent:
            break  // the log keeps it; the store needs nothing from it
        case .acknowledged:
            guard record.command == LockoutCommand.start.rawValue, record.result == "applied",
                let serial = record.serial
            else { return }
            for text in record.lockoutIds ?? [] {
                guard let id = LockoutID(text) else { continue }
                try LockoutSchema.insertAcknowledgement(
                    connection,
                    id,
                    serial: serial,
                    at: record.at,
                    auditIndex: auditIndex
                )
            }
        }
    }

    // MARK: Recovery

    /// Rolls forward every lockout entry of the log the store lacks (after a crash between an
    /// append and its commit). Returns the highest lockout sequence the log shows sent per pump,
    /// so the command store's counters can be raised past them.
    public func recover() async throws(LockoutError) -> [String: UInt64] {
        if shared != nil {
            // Entries and rows commit together, and a lockout command's sequence is taken in the
            // same transaction as its entry: nothing to roll forward, no counter behind.
            try refresh()
            return [:]
        }
        var sent: [String: UInt64] = [:]
        do {
            let floor = try LockoutSchema.floor(connection)
            let size = try await audit.storedSize()
            var start = floor
            while start < size {
                let end = min(size, start + 4096)
                let entries = try await audit.entries(in: start..<end)
                try connection.writeTransaction {
                    for entry in entries {
                        guard let record = LockoutAuditRecord(entry) else { continue }
                        if record.op == .sent, let serial = record.serial, let sequence = record.sequence {
                            sent[serial] = max(sent[serial] ?? 0, sequence)
                        }
                        try apply(record, actor: entry.event.actor, auditIndex: entry.index)
                    }
                    try LockoutSchema.raiseFloor(connection, to: end)
                }
                start = end
            }
        } catch let error as LockoutError {
            throw error
        } catch {
            throw LockoutError(.storageFailure, "recover the lockout store from the audit log: \(error)")
        }
        return sent
    }
}

/// The two lockout commands a pump is sent.
public enum LockoutCommand: String, Sendable, Hashable {
    case start
    case lift
}

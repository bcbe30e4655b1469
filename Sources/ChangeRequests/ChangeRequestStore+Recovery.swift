import AuditLog
import SQLiteStore
public import TherapyModel

/// What `ChangeRequestStore.recover` found and did.
public struct ChangeRecoveryReport: Sendable, Hashable {
    public enum Problem: Sendable, Hashable {
        /// A request's latest step has no matching entry in the audit log: it is quarantined and
        /// never delivered.
        case auditEntryMissing(ChangeRequestID, auditIndex: UInt64)
        /// An entry of ours in the log could not be applied: it contradicts the store.
        case conflictingEntry(auditIndex: UInt64, reason: String)
    }

    /// The audit indexes scanned for steps the store lacked.
    public var scanned: Range<UInt64> = 0..<0
    /// Audit indexes of steps redone from the log (the crash came between append and commit).
    public var rolledForward: [UInt64] = []
    /// Commands that were sent when the gateway stopped, now uncertain.
    public var markedUncertain: [ChangeRequest] = []
    /// Every request not in a final state after recovery, oldest first: pending approval, queued
    /// (delivered when their pump connects), uncertain (settled from the pump's next hello).
    public var unfinished: [ChangeRequest] = []
    public var problems: [Problem] = []
}

extension ChangeRequestStore {
    /// Puts the store back in step with the audit log after a stop of any kind (see the type's
    /// "Recovery rule"). Call it once at startup, before serving requests or pumps.
    public func recover(now: Timestamp) async throws -> ChangeRecoveryReport {
        try checkAvailable()
        var report = ChangeRecoveryReport()
        if shared != nil {
            // Entries and rows commit together: nothing to roll forward. Commands sent by a node
            // that stopped are settled from their pump's next hello, wherever it lands; the
            // other nodes' sent commands are still in flight and are not this node's to touch.
            for request in try unfinishedRequests() {
                try await checkAuditEntry(of: request, into: &report)
            }
            report.unfinished = try unfinishedRequests()
            return report
        }
        let floor = try reading("read the recovery floor") {
            try ChangeRequestSchema.meta(connection, ChangeRequestSchema.recoveryFloorKey) ?? 0
        }
        let size = try await auditSize()
        report.scanned = min(floor, size)..<size
        var start = report.scanned.lowerBound
        while start < size {
            let end = min(size, start + 4096)
            let entries: [AuditEntry]
            do {
                entries = try await audit.entries(in: start..<end)
            } catch {
                throw ChangeRequestError(.auditFailed, "read audit entries \(start)..<\(end) for recovery: \(error)")
            }
            for entry in entries {
                try rollForward(entry, into: &report)
            }
            start = end
        }
        try reading("move the recovery floor") {
            try connection.writeTransaction {
                let inFlight = inflightFloors.values.min() ?? UInt64.max
                try ChangeRequestSchema.setMeta(connection, ChangeRequestSchema.recoveryFloorKey, min(inFlight, size))
            }
        }
        for request in try unfinishedRequests() {
            try await checkAuditEntry(of: request, into: &report)
        }
        let sent = try unfinishedRequests().filter { $0.state == .sent }
        report.markedUncertain = try await sweep(sent, to: .uncertain, kind: .commandUncertain, now: now)
        report.unfinished = try unfinishedRequests()
        return report
    }

    private func auditSize() async throws -> UInt64 {
        do {
            return try await audit.storedSize()
        } catch {
            throw ChangeRequestError(.auditFailed, "read the audit log's size for recovery: \(error)")
        }
    }

    /// Applies `entry` if it is one of ours and not yet in the store.
    private func rollForward(_ entry: AuditEntry, into report: inout ChangeRecoveryReport) throws {
        let actor = ChangeActor(id: entry.event.actor.id, role: entry.event.actor.role)
        do {
            if let event = ChangeRequestEvent(entry) {
                guard try !ChangeRequestSchema.hasTransition(connection, auditIndex: entry.index) else { return }
                _ = try connection.writeTransaction { try apply(event, actor: actor, auditIndex: entry.index) }
                report.rolledForward.append(entry.index)
            } else if let event = PumpTherapyEvent(entry) {
                guard try !hasTherapy(auditIndex: entry.index) else { return }
                try connection.writeTransaction { try applyTherapy(event, actor: actor, auditIndex: entry.index) }
                report.rolledForward.append(entry.index)
            } else if let event = PumpBindingEvent(entry) {
                guard try !hasBindingStep(auditIndex: entry.index) else { return }
                try connection.writeTransaction { try applyBinding(event, actor: actor, auditIndex: entry.index) }
                report.rolledForward.append(entry.index)
            }
        } catch let error as ChangeRequestError {
            report.problems.append(.conflictingEntry(auditIndex: entry.index, reason: error.reason))
        } catch let error as SQLiteError {
            throw ChangeRequestError(
                .storageFailure,
                "\(path): roll forward audit entry \(entry.index): \(error.reason)"
            )
        }
    }

    /// Quarantines `request` if the audit entry behind its current state is missing or names
    /// something else.
    private func checkAuditEntry(of request: ChangeRequest, into report: inout ChangeRecoveryReport) async throws {
        guard let last = request.history.last else { return }
        let entry: AuditEntry?
        do {
            entry = try await audit.entries(in: last.auditIndex..<last.auditIndex + 1).first
        } catch {
            throw ChangeRequestError(.auditFailed, "read audit entry \(last.auditIndex) for \(request.id): \(error)")
        }
        if let event = entry.flatMap({ ChangeRequestEvent($0) }), event.requestId == request.id.rawValue,
            event.states.last == request.state.name
        {
            return
        }
        let problem = "audit entry \(last.auditIndex) for its \(request.state) step is missing or names something else"
        try reading("quarantine \(request.id)") {
            try connection.writeTransaction {
                let update = try connection.prepare("UPDATE request SET integrity_problem = ? WHERE id = ?")
                try update.bind(problem, at: 1)
                try update.bind(request.id.rawValue, at: 2)
                try update.run()
            }
        }
        report.problems.append(.auditEntryMissing(request.id, auditIndex: last.auditIndex))
    }

    private func hasTherapy(auditIndex: UInt64) throws -> Bool {
        let select = try connection.prepare("SELECT 1 FROM pump_therapy WHERE audit_index = ?")
        try select.bind(Int64(auditIndex), at: 1)
        return try select.step()
    }
}

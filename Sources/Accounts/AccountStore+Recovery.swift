public import AuditLog
public import TherapyModel

/// What `AccountStore.recover` settled.
public struct AccountRecoveryReport: Sendable, Hashable {
    /// Pending rows whose audit entry was found: now done, with that entry's index.
    public var completed: [String] = []
    /// Creations never logged: dropped (the admin never saw them succeed).
    public var dropped: [String] = []
    /// Disables never logged: logged now (the disable stood from the start).
    public var loggedLate: [String] = []

    public var isEmpty: Bool { completed.isEmpty && dropped.isEmpty && loggedLate.isEmpty }
}

extension AccountStore {
    /// Settles every account change a crash left pending (see the type's comment). Run before
    /// writing (the CLI does) and when the gateway starts; cheap when nothing is pending.
    public func recover(audit: AuditLog, now: Timestamp) async throws -> AccountRecoveryReport {
        // A shared store's steps are whole transactions: nothing is ever left pending.
        if isShared { return AccountRecoveryReport() }
        return try await asWriter {
            var report = AccountRecoveryReport()
            let pending = try pendingRows()
            guard let lowest = pending.map(\.floor).min() else { return report }
            let found = try await loggedRecords(in: audit, from: lowest)
            for row in pending {
                if let index = found[Key(id: row.id, op: row.op)], index >= row.floor {
                    try finish(id: row.id, op: row.op, auditIndex: index)
                    report.completed.append(row.id)
                } else if row.op == .create {
                    try storage("drop pending account \(row.id)") { try deletePendingCreation(row.id) }
                    report.dropped.append(row.id)
                } else {
                    let actor = try AuditActor(id: "gateway-recovery", role: "system")
                    let record = AccountAuditRecord(op: .disable, id: row.id, at: now.millisecondsSinceEpoch)
                    try finish(id: row.id, op: .disable, auditIndex: try await append(record, by: actor, to: audit))
                    report.loggedLate.append(row.id)
                }
            }
            return report
        }
    }

    private struct Key: Hashable {
        let id: String
        let op: AccountAuditRecord.Operation
    }

    /// The index of the last account entry per (id, operation) from `floor` to the end of the log.
    private func loggedRecords(in audit: AuditLog, from floor: UInt64) async throws -> [Key: UInt64] {
        var found: [Key: UInt64] = [:]
        do {
            let size = try await audit.storedSize()
            var start = floor
            while start < size {
                let end = min(size, start + 4096)
                for entry in try await audit.entries(in: start..<end) {
                    if let record = AccountAuditRecord(entry) {
                        found[Key(id: record.id, op: record.op)] = entry.index
                    }
                }
                start = end
            }
        } catch let error as AccountError {
            throw error
        } catch {
            throw AccountError(.auditFailed, "read the audit log to recover pending accounts: \(error)")
        }
        return found
    }
}

import AuditExport
import AuditLog
import Foundation

/// Entries for the export tests: one of every kind the gateway records, with realistic payloads.
enum ExportFixtures {
    /// Every kind: `AuditKind.known`, the kinds declared beside it (PKI, pairing), and those other
    /// modules declare by string (lockouts, alerts), which this test target does not link.
    static let allKinds: [AuditKind] = {
        let declared: [AuditKind] = [
            .pkiRevoked, .pkiUnrevoked, .pumpPaired, .pumpUnpairRequested, .pumpTransferRequested, .pumpUnpaired,
            .pumpTransferred,
        ]
        let others = [
            "lockout.lift_requested", "lockout.sent", "lockout.acknowledged", "alert.raised", "alert.acknowledged",
        ]
        return AuditKind.known + declared + others.map { try! AuditKind($0) }
    }()

    static let baseTime: Int64 = 1_769_846_400_000  // 2026-01-31T08:00:00Z

    /// A person's role for kinds people cause; `system` or `pump` for the others.
    static func actor(for kind: AuditKind) -> AuditActor {
        switch kind.rawValue {
        case "command.sent", "command.expired", "command.uncertain", "change.decided", "security.event",
            "alert.raised", "lockout.sent":
            try! AuditActor(id: "gateway", role: "system")
        case "command.acknowledged", "command.reconciled", "lockout.acknowledged":
            try! AuditActor(id: "PUMP-0001", role: "pump")
        case "change.requested", "pump.paired", "auth.login":
            try! AuditActor(id: "alice", role: "patient")
        case "change.approved", "change.rejected", "pump.therapy.set":
            try! AuditActor(id: "drsmith", role: "clinician")
        default:
            try! AuditActor(id: "olga", role: "operator")
        }
    }

    static func payload(for kind: AuditKind) -> String {
        switch kind.rawValue {
        case "pump.paired":
            #"{"schema":"medtunnel.pump-binding.v1","pumpSerial":"PUMP-0001","patientId":"patient-001"}"#
        case "pump.therapy.set": #"{"prescription":{"patientId":"patient-001","maxBolusMilliunits":10000}}"#
        case "lockout.started": #"{"scope":{"patient":"patient-001"},"reason":"suspected replay"}"#
        case "change.decided": #"{"decision":"rejected","reasons":["over max bolus"]}"#
        case "security.event": "{\"event\":\"tampered_record\",\n \"note\":\"a, \\\"quoted\\\" line\"}"
        default: #"{"kind":"\#(kind.rawValue)"}"#
        }
    }

    static func event(_ kind: AuditKind, offset: Int64) -> AuditEvent {
        try! AuditEvent(
            timeMilliseconds: self.baseTime + offset * 1000,
            actor: self.actor(for: kind),
            kind: kind,
            pumpSerial: kind.rawValue.hasPrefix("account") || kind.rawValue.hasPrefix("auth") ? nil : "PUMP-0001",
            phoneID: kind.rawValue.hasPrefix("command") ? "PHONE-1" : nil,
            payload: Array(self.payload(for: kind).utf8)
        )
    }

    static func exported(_ kind: AuditKind, index: UInt64 = 0) -> ExportedEntry {
        ExportedEntry(entry: AuditEntry(index: index, event: self.event(kind, offset: Int64(index))))
    }

    /// A fresh state directory holding a real SQLite log with one entry of every kind.
    static func logOfEveryKind() async throws -> (directory: String, log: AuditLog) {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("medtunnel-export-\(UUID().uuidString)").path
        let log = try await AuditLog.open(stateDirectory: directory)
        for (offset, kind) in self.allKinds.enumerated() {
            _ = try await log.append(self.event(kind, offset: Int64(offset)))
        }
        return (directory, log)
    }

    /// Collects an export's bytes.
    static func export(
        _ exporter: AuditExporter,
        _ format: ExportFormat,
        _ filter: ExportFilter = ExportFilter()
    ) async throws -> (bytes: [UInt8], summary: AuditExporter.Summary, chunks: Int) {
        var bytes: [UInt8] = []
        var chunks = 0
        let summary = try await exporter.export(format: format, filter: filter, now: self.baseTime) { chunk in
            bytes += chunk
            chunks += 1
        }
        return (bytes, summary, chunks)
    }
}

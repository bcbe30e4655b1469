public import AuditLog

/// Which patient each pump is bound to, as the log's binding entries tell it (`pump.paired`,
/// `pump.transferred`, `pump.unpaired`): for readers of a state directory (the CLI) that have the
/// log but not the gateway's binding store, which is itself rolled forward from these entries.
public struct PumpBindingReplay: Sendable {
    public private(set) var patients: [String: String] = [:]

    public init() {}

    /// Applies `entry` if it changes a binding.
    public mutating func apply(_ entry: AuditEntry) {
        let event = entry.event
        guard let serial = event.pumpSerial else { return }
        switch event.kind {
        case .pumpPaired:
            if let patient = AuditPayload.object(event.payload)?["patientId"] as? String {
                self.patients[serial] = patient
            }
        case .pumpTransferred:
            if let patient = AuditPayload.object(event.payload)?["targetPatientId"] as? String {
                self.patients[serial] = patient
            }
        case .pumpUnpaired:
            self.patients[serial] = nil
        default:
            break
        }
    }

    /// The bindings after every entry of `store`'s first `size` entries, read in chunks.
    public static func replay(store: any AuditStore, size: UInt64) async throws -> PumpBindingReplay {
        var replay = PumpBindingReplay()
        var start: UInt64 = 0
        while start < size {
            let rows = try await store.entries(in: start..<min(size, start + AuditScan.chunkSize))
            guard let last = rows.last else { break }
            for row in rows { replay.apply(try AuditEntry(decoding: row.body, context: "entry \(row.index)")) }
            start = last.index + 1
        }
        return replay
    }
}

public import AuditLog
import Foundation

/// The `audit.export` entry that records an export: who, which format and filters, how many
/// entries, up to which size of the log, and where it went (`cli` or `api`). No entry contents.
public enum ExportRecord {
    public static func event(
        by actor: AuditActor,
        format: ExportFormat,
        filter: ExportFilter,
        summary: AuditExporter.Summary,
        channel: String,
        now: Int64
    ) throws -> AuditEvent {
        var object: [String: Any] = [
            "format": format.rawValue,
            "count": summary.count,
            "logSize": summary.scanned,
            "channel": channel,
        ]
        let filters = filter.recorded
        if !filters.isEmpty { object["filters"] = filters }
        return try AuditEvent(
            timeMilliseconds: now,
            actor: actor,
            kind: .export,
            pumpSerial: filter.pump,
            payload: JSONLinesMapping.serialize(object)
        )
    }
}

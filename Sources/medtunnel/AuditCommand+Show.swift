import ArgumentParser
import AuditLog
import Foundation
import TherapyJSON

extension AuditCommand {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List entries, filtered by pump, time or kind.")

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, jsonl
        }

        @OptionGroup var location: AuditLocation

        @Option(help: "Only entries for this pump serial.")
        var pump: String?

        @Option(help: "Only entries at or after this time: milliseconds since the epoch or ISO 8601.")
        var since: String?

        @Option(help: "Only entries of this kind, e.g. change.requested.")
        var kind: String?

        @Option(help: "table or jsonl.")
        var format: Format = .table

        func run() async throws {
            try await reportingAuditErrors {
                let sinceMilliseconds = try self.since.map(parseTime)
                let store = try self.location.directory.openStore(create: false)
                let size = try await store.size()
                if self.format == .table {
                    Console.out("INDEX\tTIME\tKIND\tACTOR\tPUMP\tPHONE\tPAYLOAD")
                }
                var start: UInt64 = 0
                while start < size {
                    let rows = try await store.entries(in: start..<min(size, start + 8192))
                    guard !rows.isEmpty else { break }
                    for row in rows {
                        let entry = try AuditEntry(decoding: row.body, context: "entry \(row.index)")
                        let event = entry.event
                        if let pump, event.pumpSerial != pump { continue }
                        if let kind, event.kind.rawValue != kind { continue }
                        if let sinceMilliseconds, event.timeMilliseconds < sinceMilliseconds { continue }
                        Console.out(self.format == .table ? tableRow(entry) : try Console.json(jsonObject(entry)))
                    }
                    start = rows.last!.index + 1
                }
            }
        }
    }
}

func parseTime(_ text: String) throws -> Int64 {
    if let milliseconds = Int64(text) { return milliseconds }
    if let time = ISO8601Time.parse(text) { return time.millisecondsSinceEpoch }
    throw ValidationError("--since \(text): expected milliseconds since the epoch or an ISO 8601 time")
}

func isoTime(_ milliseconds: Int64) -> String {
    ISO8601Time.format(milliseconds: milliseconds)
}

func tableRow(_ entry: AuditEntry) -> String {
    let event = entry.event
    let payload = String(decoding: event.payload, as: UTF8.self)
    return [
        String(entry.index), isoTime(event.timeMilliseconds), event.kind.rawValue,
        "\(event.actor.role):\(event.actor.id)",
        event.pumpSerial ?? "-", event.phoneID ?? "-",
        payload.count > 60 ? String(payload.prefix(57)) + "..." : payload,
    ].joined(separator: "\t")
}

/// An entry as JSON; a payload that is valid JSON is embedded, any other is given in base64.
func jsonObject(_ entry: AuditEntry) -> [String: Any] {
    let event = entry.event
    var object: [String: Any] = [
        "index": entry.index,
        "time": isoTime(event.timeMilliseconds),
        "timeMs": event.timeMilliseconds,
        "kind": event.kind.rawValue,
        "actor": ["id": event.actor.id, "role": event.actor.role],
    ]
    if let pump = event.pumpSerial { object["pump"] = pump }
    if let phone = event.phoneID { object["phone"] = phone }
    if let payload = try? JSONSerialization.jsonObject(with: Data(event.payload), options: [.fragmentsAllowed]) {
        object["payload"] = payload
    } else {
        object["payloadBase64"] = Data(event.payload).base64EncodedString()
    }
    return object
}

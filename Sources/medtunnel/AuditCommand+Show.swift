import ArgumentParser
import AuditLog
import AuditTrail
import Foundation
import TherapyJSON

extension AuditCommand {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List entries, filtered by patient, pump, actor, kind or time.",
            discussion: """
                The filters are the ones of GET /v1/audit (docs/audit.md): every one given must \
                match. Times are RFC 3339, a date (2026-12-02, midnight UTC) or epoch \
                milliseconds; --since is inclusive, --until exclusive. A filter that cannot be read \
                (an unknown --kind, a bad time) is an error naming it, exit 2.
                """
        )

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, jsonl
        }

        @OptionGroup var location: AuditLocation

        @Option(help: "Only entries whose payload names this patient, or whose pump is bound to them by pairing.")
        var patient: String?

        @Option(help: "Only entries for this pump serial.")
        var pump: String?

        @Option(help: "Only entries of this actor (an account id, or e.g. gateway).")
        var actor: String?

        @Option(help: "Only entries of this kind (change.requested) or security event kind (tunnel_failed).")
        var kind: String?

        @Option(help: "Only entries at or after this time (RFC 3339, a date, or epoch milliseconds).")
        var since: String?

        @Option(help: "Only entries before this time (RFC 3339, a date, or epoch milliseconds).")
        var until: String?

        @Option(help: "table or jsonl.")
        var format: Format = .table

        func run() async throws {
            let query = try self.query()
            try await reportingAuditErrors {
                let store = try await self.location.directory.openStore(create: false)
                let size = try await store.size()
                // The patient filter needs each pump's binding: the log's own binding entries say it.
                let bindings =
                    query.needsPumpPatient ? try await PumpBindingReplay.replay(store: store, size: size) : nil
                if self.format == .table {
                    Console.out("INDEX\tTIME\tKIND\tACTOR\tPUMP\tPHONE\tSUMMARY")
                }
                var start: UInt64 = 0
                while start < size {
                    let rows = try await store.entries(in: start..<min(size, start + AuditScan.chunkSize))
                    guard let last = rows.last else { break }
                    for row in rows {
                        let entry = try AuditEntry(decoding: row.body, context: "entry \(row.index)")
                        let patient = entry.event.pumpSerial.flatMap { bindings?.patients[$0] }
                        guard query.matches(entry, pumpPatient: patient) else { continue }
                        Console.out(
                            self.format == .table ? tableRow(entry) : try Console.json(AuditEntryJSON.object(entry))
                        )
                    }
                    start = last.index + 1
                }
            }
        }

        /// The filter, or exit 2 naming the option that could not be read.
        private func query() throws -> AuditQuery {
            var parameters: [String: String] = [:]
            for (name, value) in [
                ("patient", self.patient), ("pump", self.pump), ("actor", self.actor), ("kind", self.kind),
                ("since", self.since), ("until", self.until),
            ] {
                if let value { parameters[name] = value }
            }
            do throws(AuditQueryError) {
                return try AuditQuery(parameters: parameters)
            } catch {
                Console.err("audit: --\(error.parameter) '\(error.value)': must be \(error.expected)")
                throw ExitCode(2)
            }
        }
    }
}

func isoTime(_ milliseconds: Int64) -> String {
    ISO8601Time.format(milliseconds: milliseconds)
}

func tableRow(_ entry: AuditEntry) -> String {
    let event = entry.event
    return [
        String(entry.index), isoTime(event.timeMilliseconds), event.kind.rawValue,
        "\(event.actor.role):\(event.actor.id)",
        event.pumpSerial ?? "-", event.phoneID ?? "-", AuditSummary.line(entry),
    ].joined(separator: "\t")
}

import ArgumentParser
import AuditExport
import AuditLog
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension AuditCommand {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export entries as JSON lines, CSV or a FHIR R4 AuditEvent bundle (IHE BALP).",
            discussion: """
                Read-only over the log (works beside a running gateway); the export itself is then \
                recorded as an audit.export entry (who, format, filters, count). With --out, the file \
                appears only complete and only once the export is recorded (temp file, fsync, rename).
                Example: medtunnel audit export --state-dir state --format fhir --since 2026-01-01T00:00:00Z \
                --out audit.fhir.json
                """
        )

        @OptionGroup var location: AuditLocation

        @Option(help: "jsonl, csv or fhir.")
        var format: String = "jsonl"

        @Option(help: "Only entries at or after this time: milliseconds since the epoch or ISO 8601.")
        var since: String?

        @Option(help: "Only entries before this time: milliseconds since the epoch or ISO 8601.")
        var until: String?

        @Option(help: "Only entries of this kind, e.g. change.requested.")
        var kind: String?

        @Option(help: "Only entries for this pump serial.")
        var pump: String?

        @Option(help: "Write to this file (durably) instead of standard output.")
        var out: String?

        @Option(help: "Who exports, as recorded in the audit log (default: the OS user).")
        var by: String?

        @Option(help: "The exporter's role, as recorded in the audit log.")
        var role: String = "operator"

        @Option(help: "Report progress on stderr every this many entries scanned (0: never).")
        var progressEvery: UInt64 = 50_000

        func run() async throws {
            let format: ExportFormat
            let filter: ExportFilter
            do {
                format = try ExportFormat(parameter: self.format)
                filter = try ExportFilter(since: self.since, until: self.until, kind: self.kind, pump: self.pump)
            } catch {
                throw ValidationError("--\(error.parameter ?? "format"): \(error.reason)")
            }
            try await reportingAuditErrors {
                let actor = try AuditActor(id: self.by ?? Self.osUser(), role: self.role)
                let store = try await self.location.directory.openStore(create: false)
                let exporter = AuditExporter(store: store, origin: self.location.origin)
                let output = try ExportOutput(path: self.out)
                let every = self.progressEvery
                var reported: UInt64 = 0
                let summary: AuditExporter.Summary
                do {
                    summary = try await exporter.export(
                        format: format,
                        filter: filter,
                        now: Self.now(),
                        sink: { bytes in try output.write(bytes) },
                        progress: { scanned, written in
                            guard every > 0, scanned / every > reported / every else { return }
                            reported = scanned
                            Console.err("audit export: \(scanned) entries scanned, \(written) written")
                        }
                    )
                    try output.sync()
                    // Recorded before the file appears: no export file exists whose export is not logged.
                    let log = try await AuditLog.openExisting(
                        stateDirectory: self.location.stateDirectory,
                        configuration: AuditLog.Configuration(origin: self.location.origin)
                    )
                    let record = try ExportRecord.event(
                        by: actor,
                        format: format,
                        filter: filter,
                        summary: summary,
                        channel: "cli",
                        now: Self.now()
                    )
                    let receipt = try await log.append(record)
                    try output.commit()
                    Console.err(
                        "audit export: \(summary.count) of \(summary.scanned) entries as \(format.rawValue)"
                            + "\(self.out.map { " to \($0)" } ?? ""); recorded as audit.export at index \(receipt.index)"
                    )
                } catch let error as ExportError {
                    output.abandon()
                    Console.err("audit export: \(error.reason)")
                    throw ExitCode(1)
                } catch {
                    output.abandon()
                    throw error
                }
            }
        }

        static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

        static func osUser() -> String {
            if let name = getpwuid(geteuid())?.pointee.pw_name { return String(cString: name) }
            return ProcessInfo.processInfo.environment["USER"] ?? "uid-\(geteuid())"
        }
    }
}

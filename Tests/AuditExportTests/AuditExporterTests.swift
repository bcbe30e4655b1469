import AuditExport
import AuditLog
import Foundation
import Testing

@Suite("Audit exporter: streaming, filters, refusals")
struct AuditExporterTests {
    @Test("JSON lines of a real log: one line per entry, in index order, each leaf hash the store's")
    func jsonlWholeLog() async throws {
        let (_, log) = try await ExportFixtures.logOfEveryKind()
        let exporter = AuditExporter(store: log.store, origin: "medtunnel.local/audit")
        let (bytes, summary, _) = try await ExportFixtures.export(exporter, .jsonl)
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == ExportFixtures.allKinds.count)
        #expect(summary.count == UInt64(ExportFixtures.allKinds.count) && summary.scanned == summary.count)
        let rows = try await log.store.entries(in: 0..<summary.scanned)
        for (line, row) in zip(lines, rows) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["index"] as? Int == Int(row.index))
            #expect(object["leafHash"] as? String == row.leafHash.map { String(format: "%02x", $0) }.joined())
        }
    }

    @Test(
        "small chunks and flushes give the same bytes as one pass, in many sink calls",
        arguments: ExportFormat.allCases
    )
    func boundedChunks(_ format: ExportFormat) async throws {
        let (_, log) = try await ExportFixtures.logOfEveryKind()
        let whole = try await ExportFixtures.export(AuditExporter(store: log.store, origin: "o"), format)
        let small = AuditExporter(store: log.store, origin: "o", chunkSize: 3, flushBytes: 1)
        let chunked = try await ExportFixtures.export(small, format)
        #expect(chunked.bytes == whole.bytes)
        #expect(whole.chunks < chunked.chunks)
        #expect(chunked.chunks >= ExportFixtures.allKinds.count)
    }

    @Test("filters: kind, pump and the time window (since inclusive, until exclusive)")
    func filters() async throws {
        let (_, log) = try await ExportFixtures.logOfEveryKind()
        let exporter = AuditExporter(store: log.store, origin: "o")
        let kind = try await ExportFixtures.export(exporter, .jsonl, ExportFilter(kind: .pumpPaired))
        #expect(kind.summary.count == 1)
        let noPump = ExportFixtures.allKinds.filter { ExportFixtures.event($0, offset: 0).pumpSerial == nil }.count
        let pump = try await ExportFixtures.export(exporter, .jsonl, ExportFilter(pump: "PUMP-0001"))
        #expect(pump.summary.count == UInt64(ExportFixtures.allKinds.count - noPump))
        let window = try ExportFilter(
            since: String(ExportFixtures.baseTime + 2000),
            until: "2026-01-31T08:00:05Z",
            kind: "",
            pump: nil
        )
        let timed = try await ExportFixtures.export(exporter, .csv, window)
        #expect(timed.summary.count == 3)  // entries at +2 s, +3 s, +4 s
        #expect(String(decoding: timed.bytes, as: UTF8.self).components(separatedBy: "\r\n").count == 1 + 3 + 1)
    }

    @Test("an empty result is still a valid document: a Bundle without an empty entry array")
    func emptyFHIR() async throws {
        let (_, log) = try await ExportFixtures.logOfEveryKind()
        let exporter = AuditExporter(store: log.store, origin: "o")
        let none = try await ExportFixtures.export(exporter, .fhir, ExportFilter(pump: "PUMP-NONE"))
        let bundle = try #require(try JSONSerialization.jsonObject(with: Data(none.bytes)) as? [String: Any])
        #expect(bundle["resourceType"] as? String == "Bundle" && bundle["type"] as? String == "collection")
        #expect(bundle["entry"] == nil)
        let all = try await ExportFixtures.export(exporter, .fhir)
        let full = try #require(try JSONSerialization.jsonObject(with: Data(all.bytes)) as? [String: Any])
        let entries = try #require(full["entry"] as? [[String: Any]])
        #expect(entries.count == ExportFixtures.allKinds.count)
        #expect(Set(entries.map { $0["fullUrl"] as! String }).count == entries.count)
    }

    @Test("a stored entry whose bytes do not match its leaf hash stops the export with corrupt_entry")
    func corruptEntry() async throws {
        let good = ExportFixtures.exported(.login, index: 0)
        var body = good.canonical
        body[body.count - 2] ^= 0x01
        let store = FixedStore(rows: [StoredEntry(index: 0, body: body, leafHash: good.leafHash)])
        await #expect(throws: ExportError(.corruptEntry, "")) {
            _ = try await ExportFixtures.export(AuditExporter(store: store, origin: "o"), .jsonl)
        }
    }

    @Test("bad parameters are refused, each naming the parameter at fault")
    func badParameters() throws {
        func refused(_ parameter: String) -> ExportError { ExportError(.invalidParameter, parameter: parameter, "") }
        #expect(throws: refused("format")) { try ExportFormat(parameter: "xml") }
        #expect(throws: refused("since")) { try ExportFilter(since: "yesterday", until: nil, kind: nil, pump: nil) }
        #expect(throws: refused("until")) { try ExportFilter(since: nil, until: "31/01/2026", kind: nil, pump: nil) }
        #expect(throws: refused("until")) { try ExportFilter(since: "2000", until: "1000", kind: nil, pump: nil) }
        #expect(throws: refused("kind")) {
            try ExportFilter(since: nil, until: nil, kind: "Change Requested", pump: nil)
        }
        let long = String(repeating: "P", count: 300)
        #expect(throws: refused("pump")) { try ExportFilter(since: nil, until: nil, kind: nil, pump: long) }
        // Empty strings are absent filters (an HTML form's blank fields).
        #expect(try ExportFilter(since: "", until: "", kind: "", pump: "") == ExportFilter())
    }

    @Test("the audit.export record names who, the format, the filters and the count, no contents")
    func record() throws {
        let event = try ExportRecord.event(
            by: try AuditActor(id: "olga", role: "operator"),
            format: .fhir,
            filter: ExportFilter(kind: .pumpPaired, pump: "PUMP-0001"),
            summary: AuditExporter.Summary(count: 3, scanned: 40),
            channel: "cli",
            now: ExportFixtures.baseTime
        )
        #expect(event.kind == .export && event.pumpSerial == "PUMP-0001")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(event.payload)) as? [String: Any])
        #expect(
            object["format"] as? String == "fhir" && object["count"] as? Int == 3 && object["logSize"] as? Int == 40
        )
        #expect(object["filters"] as? [String: String] == ["kind": "pump.paired", "pump": "PUMP-0001"])
    }
}

/// A store that returns fixed rows, for entries no real log would write.
struct FixedStore: AuditStore {
    let rows: [StoredEntry]
    func size() async throws -> UInt64 { UInt64(self.rows.count) }
    func append(_ batch: AuditBatch) async throws { fatalError("read-only") }
    func storeCheckpoint(size: UInt64, note: String) async throws { fatalError("read-only") }
    func hashes(of nodes: [MerkleNodeID]) async throws -> [[UInt8]] { [] }
    func entries(in range: Range<UInt64>) async throws -> [StoredEntry] {
        self.rows.filter { range.contains($0.index) }
    }
    func nodes(after key: Int64, limit: Int) async throws -> [StoredNode] { [] }
    func checkpoints() async throws -> [StoredCheckpoint] { [] }
    func latestCheckpoint() async throws -> StoredCheckpoint? { nil }
}

import AuditExport
import AuditLog
import Foundation
import Testing

@Suite("CSV and JSON lines mappings")
struct CSVAndJSONLinesTests {
    static func entry(payload: [UInt8], pump: String? = "PUMP-0001", actor: String = "olga") throws -> ExportedEntry {
        let event = try AuditEvent(
            timeMilliseconds: ExportFixtures.baseTime,
            actor: try AuditActor(id: actor, role: "operator"),
            kind: .configChanged,
            pumpSerial: pump,
            payload: payload
        )
        return ExportedEntry(entry: AuditEntry(index: 7, event: event))
    }

    @Test("CSV quotes commas, quotes, CR and LF per RFC 4180, and a reader gets the fields back")
    func csvQuoting() throws {
        let payload = "{\"note\":\"a, \\\"b\\\"\",\n\"x\":\"line\\r\\n\"}\r\nend"
        let row = CSVMapping.row(try Self.entry(payload: Array(payload.utf8), actor: "o\"l,ga"))
        let text = String(decoding: row, as: UTF8.self)
        #expect(text.hasSuffix("\r\n"))
        #expect(text.contains("\"o\"\"l,ga\""))
        let records = Self.parseCSV(String(decoding: CSVMapping.header + row, as: UTF8.self))
        #expect(records.count == 2)
        #expect(records[0] == CSVMapping.columns)
        #expect(records[1].count == CSVMapping.columns.count)
        #expect(records[1][0] == "7")
        #expect(records[1][1] == "2026-01-31T08:00:00.000Z")
        #expect(records[1][2] == "o\"l,ga")
        #expect(records[1][5] == "PUMP-0001" && records[1][6] == "")
        #expect(records[1][7] == "Configuration changed")
        #expect(records[1][8] == payload)
    }

    @Test("a CSV field without special characters is not quoted; a binary payload is base64")
    func csvPlainAndBinary() throws {
        let row = String(decoding: CSVMapping.row(try Self.entry(payload: [0xff, 0x00, 0x01])), as: UTF8.self)
        #expect(row.hasPrefix("7,2026-01-31T08:00:00.000Z,olga,operator,config.changed,PUMP-0001,,"))
        #expect(row.hasSuffix(",base64:/wAB\r\n"))
    }

    @Test("JSON lines: one line per entry even for a pretty-printed payload, with the leaf hash")
    func jsonLine() throws {
        let exported = try Self.entry(payload: Array("{\n  \"a\": [1,\n 2]\n}".utf8), pump: nil)
        let line = JSONLinesMapping.line(exported)
        #expect(line.last == 0x0a)
        #expect(!line.dropLast().contains(0x0a))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(object["index"] as? Int == 7)
        #expect(object["time"] as? String == "2026-01-31T08:00:00.000Z")
        #expect(object["actor"] as? String == "olga" && object["role"] as? String == "operator")
        #expect(object["kind"] as? String == "config.changed")
        #expect(object["pump"] is NSNull && object["phone"] is NSNull)
        #expect((object["payload"] as? [String: Any])?["a"] as? [Int] == [1, 2])
        #expect(object["leafHash"] as? String == exported.leafHashHex)
        #expect(exported.leafHashHex.count == 64)
    }

    @Test("JSON lines: a payload that is not JSON is given in base64, not dropped")
    func jsonLineBinary() throws {
        let line = JSONLinesMapping.line(try Self.entry(payload: [0xff, 0x00, 0x01]))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(object["payloadBase64"] as? String == "/wAB")
        #expect(object["payload"] == nil)
    }

    /// A strict RFC 4180 reader (CRLF records, doubled quotes), independent of the writer.
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" {
                        field.append("\"")
                        chars.removeFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                record.append(field)
                field = ""
            } else if c == "\r\n" {
                record.append(field)
                records.append(record)
                record = []
                field = ""
            } else {
                field.append(c)
            }
        }
        return records
    }
}

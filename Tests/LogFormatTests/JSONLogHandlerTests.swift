import Foundation
import Logging
import Testing

@testable import LogFormat

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    func parse(_ line: String) throws -> [String: Any] {
        #expect(line.hasSuffix("\n") && line.dropLast().contains("\n") == false, "not one line: \(line)")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test("a record is one line of JSON with time, level, label, message and its metadata as keys")
    func record() throws {
        let line = JSONLogHandler.line(
            time: JSONLine.time(seconds: 1_796_464_800, milliseconds: 7),
            level: .warning,
            label: "medtunnel.gateway",
            message: "session closed",
            metadata: ["device": "PUMP-0001", "phone": .stringConvertible(42), "peers": ["a", "b"], "time": "clash"]
        )
        let object = try self.parse(line)
        #expect(object["time"] as? String == "2026-12-05T10:00:00.007Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "medtunnel.gateway")
        #expect(object["message"] as? String == "session closed")
        #expect(object["device"] as? String == "PUMP-0001")
        #expect(object["phone"] as? String == "42")
        #expect(object["peers"] as? [String] == ["a", "b"])
        // A metadata key never replaces a fixed one.
        #expect(object["metadata.time"] as? String == "clash")
    }

    @Test("quotes, backslashes, newlines, every control character and U+2028 are escaped: still one line, same text")
    func escaping() throws {
        var hostile = "a\"b\\c\nd\re\tf\u{0}g\u{1F}h\u{7F}i\u{2028}j\u{2029}k é 💉 }{\"injected\":1"
        for value in 0..<0x20 { hostile.unicodeScalars.append(Unicode.Scalar(UInt8(value))) }
        let line = JSONLogHandler.line(
            time: JSONLine.now(),
            level: .info,
            label: "l\n",
            message: hostile,
            metadata: ["k\"\n": .string(hostile)]
        )
        let object = try self.parse(line)
        #expect(object["message"] as? String == hostile)
        #expect(object["k\"\n"] as? String == hostile)
        #expect(object["label"] as? String == "l\n")
        #expect(object["injected"] == nil)
    }

    @Test("RFC 3339 UTC with milliseconds, zero-padded")
    func time() {
        #expect(JSONLine.time(seconds: 0, milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(JSONLine.time(seconds: 951_782_400, milliseconds: 999) == "2000-02-29T00:00:00.999Z")
        #expect(JSONLine.now().count == 24)
    }

    @Test("the handler merges its own metadata under the call's, as swift-log's text handler does")
    func merging() {
        var handler = JSONLogHandler(label: "x", metadataProvider: nil)
        handler[metadataKey: "device"] = "PUMP-1"
        handler[metadataKey: "phone"] = "PHONE-1"
        #expect(handler.metadata["device"] == "PUMP-1")
        #expect(LogFormat.allCases.map(\.rawValue) == ["text", "json"])
    }
}

import Testing

@testable import AuditSyslog

@Suite("syslog: octet-counting framing (RFC 6587, RFC 5425)")
struct SyslogFramingTests {
    @Test("a frame is the message's length in octets, a space, and the message")
    func frame() {
        #expect(SyslogFraming.frame(Array("<85>1 é".utf8)) == Array("8 <85>1 é".utf8))
    }

    @Test("frames fed a byte at a time come out whole, line feeds and digits inside included")
    func roundTrip() throws {
        let messages = ["<85>1 a\nb", "12 34", String(repeating: "x", count: 1000)].map { Array($0.utf8) }
        var decoder = SyslogFraming.Decoder()
        var decoded: [[UInt8]] = []
        for byte in messages.flatMap(SyslogFraming.frame) {
            decoder.append([byte])
            while let message = try decoder.next() { decoded.append(message) }
        }
        #expect(decoded == messages)
    }

    @Test(
        "a length that is not 1...65536 in plain decimal is refused",
        arguments: ["0 x", "x1 a", "-1 a", "99999999 a", "70000 a"]
    )
    func malformed(_ stream: String) {
        var decoder = SyslogFraming.Decoder()
        decoder.append(Array(stream.utf8))
        #expect(throws: SyslogError(.malformedFrame, "")) { try decoder.next() }
    }
}

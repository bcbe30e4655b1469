import AuditLog
import Testing

@testable import AuditSyslog

@Suite("syslog: RFC 5424 messages")
struct SyslogMessageTests {
    static func entry(
        index: UInt64 = 17,
        time: Int64 = 1_796_205_600_123,
        actor: String = "alice",
        role: String = "patient",
        kind: String = "change.requested",
        pump: String? = "PUMP-0001",
        payload: String = #"{"id":"chg_1","state":"accepted","patientId":"pat-1","token":"SECRET-TOKEN"}"#
    ) throws -> AuditEntry {
        AuditEntry(
            index: index,
            event: try AuditEvent(
                timeMilliseconds: time,
                actor: try AuditActor(id: actor, role: role),
                kind: try AuditKind(kind),
                pumpSerial: pump,
                payload: Array(payload.utf8)
            )
        )
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("an entry becomes one authpriv.notice message with its index, actor, pump and patient, and no payload")
    func format() throws {
        let message = Self.text(SyslogMessage.format(try Self.entry(), hostname: "gw1"))
        #expect(
            message
                == "<85>1 2026-12-02T10:00:00.123Z gw1 medtunnel - change.requested "
                + #"[medtunnel@32473 index="17" actor="alice" role="patient" pump="PUMP-0001" patient="pat-1"] "#
                + "\u{FEFF}change.requested by alice (patient) on PUMP-0001: id=chg_1 state=accepted patientId=pat-1"
        )
        #expect(!message.contains("SECRET-TOKEN"))
    }

    @Test("security events are warnings (PRI 84)")
    func severity() throws {
        let message = Self.text(SyslogMessage.format(try Self.entry(kind: "security.event"), hostname: "gw1"))
        #expect(message.hasPrefix("<84>1 "))
    }

    @Test("\", \\ and ] are escaped in SD-PARAM values; other UTF-8 is kept")
    func escaping() throws {
        let message = Self.text(
            SyslogMessage.format(try Self.entry(actor: #"a"b\c]d é"#, pump: nil, payload: "{}"), hostname: "gw1")
        )
        #expect(message.contains(#"actor="a\"b\\c\]d é""#))
        #expect(SyslogStructuredData.escaped(#"x]"#) == Array(#"x\]"#.utf8))
    }

    @Test("SD names are 1...32 PRINTUSASCII without =, space, ] or \"")
    func names() {
        #expect(SyslogStructuredData.isValidName("medtunnel@32473"))
        #expect(SyslogStructuredData.isValidName("index"))
        for bad in ["", "a b", "a=b", "a]b", "a\"b", "é", "a\u{7F}", String(repeating: "n", count: 33)] {
            #expect(!SyslogStructuredData.isValidName(bad), "\(bad)")
        }
    }

    @Test("timestamps are UTC with milliseconds and Z; a time outside 0000...9999 is NILVALUE")
    func timestamps() {
        #expect(SyslogMessage.timestamp(0) == "1970-01-01T00:00:00.000Z")
        #expect(SyslogMessage.timestamp(1_796_205_600_123) == "2026-12-02T10:00:00.123Z")
        #expect(SyslogMessage.timestamp(.max) == "-")
        #expect(SyslogMessage.timestamp(-62_167_219_200_001) == "-")  // just before year 0
    }

    @Test("a host name that is not PRINTUSASCII is NILVALUE; a long kind is cut to 32 in MSGID and kept in the SD")
    func headerFields() throws {
        #expect(
            Self.text(SyslogMessage.format(try Self.entry(), hostname: "gw 1")).hasPrefix(
                "<85>1 2026-12-02T10:00:00.123Z - medtunnel"
            )
        )
        let kind = "very.long.kind.name.for.testing.msgid.limit"
        let message = Self.text(SyslogMessage.format(try Self.entry(kind: kind), hostname: "gw1"))
        #expect(message.contains(" medtunnel - very.long.kind.name.for.testing. ["))
        #expect(message.contains(#"kind="\#(kind)""#))
    }

    @Test("control characters in the summary become spaces, so a collector's file keeps one line per entry")
    func controls() throws {
        let message = Self.text(
            SyslogMessage.format(try Self.entry(payload: #"{"reason":"a\nb"}"#), hostname: "gw1")
        )
        #expect(!message.contains("\n"))
        #expect(message.contains("reason=a b"))
    }
}

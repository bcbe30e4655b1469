import AuditLog
import Testing

@Suite("Entry encoding")
struct EntryEncodingTests {
    static let sample = AuditEntry(
        index: 258,
        event: try! AuditEvent(
            timeMilliseconds: 1_700_000_000_123,
            actor: try AuditActor(id: "dr-ø", role: "clinician"),
            kind: .changeApproved,
            pumpSerial: "P1",
            phoneID: nil,
            payload: Array("{}".utf8)
        )
    )

    @Test("the encoding is pinned: version 1 bytes for a known entry")
    func golden() {
        let expected =
            "01" + "0000000000000102" + "0000018bcfe5687b" + "0f"
            + Array("change.approved".utf8).map { String(format: "%02x", $0) }.joined()
            + "0005" + "64722dc3b8" + "09" + "636c696e696369616e" + "01" + "0002" + "5031" + "00000002" + "7b7d"
        #expect(TestSupport.hex(Self.sample.encoded()) == expected)
    }

    @Test("decode(encode(e)) == e and encode(decode(b)) == b")
    func roundTrip() throws {
        for number in 0..<50 {
            let entry = AuditEntry(
                index: UInt64(number * 977),
                event: TestSupport.event(number, pump: number % 4 == 0 ? nil : "S\(number)")
            )
            let bytes = entry.encoded()
            let decoded = try AuditEntry(decoding: bytes, context: "entry \(number)")
            #expect(decoded == entry)
            #expect(decoded.encoded() == bytes)
        }
    }

    @Test("an unknown but well-formed kind is preserved byte for byte")
    func unknownKind() throws {
        let kind = try AuditKind("lockout.fleet-wide.v2")
        let entry = AuditEntry(
            index: 1,
            event: try AuditEvent(timeMilliseconds: 0, actor: try AuditActor(id: "x", role: "incident"), kind: kind)
        )
        let decoded = try AuditEntry(decoding: entry.encoded(), context: "entry 1")
        #expect(decoded.event.kind.rawValue == "lockout.fleet-wide.v2")
        #expect(!AuditKind.known.contains(decoded.event.kind))
    }

    @Test("every truncation is rejected naming the entry")
    func truncations() {
        let bytes = Self.sample.encoded()
        for length in 0..<bytes.count {
            #expect(throws: AuditLogError(.malformedEntry, "")) {
                try AuditEntry(decoding: Array(bytes.prefix(length)), context: "entry 258")
            }
        }
    }

    @Test("trailing bytes, reserved flags, unknown versions, bad UTF-8 and bad kinds are rejected")
    func nonCanonical() throws {
        let bytes = Self.sample.encoded()
        let flagsOffset = 1 + 8 + 8 + 1 + 15 + 2 + 5 + 1 + 9
        #expect(bytes[flagsOffset] == 0x01)
        var cases: [(String, [UInt8])] = [("trailing byte", bytes + [0])]
        var reserved = bytes
        reserved[flagsOffset] |= 0x80
        cases.append(("reserved flag", reserved))
        var version = bytes
        version[0] = 2
        cases.append(("version 2", version))
        var utf8 = bytes
        utf8[1 + 8 + 8 + 1 + 15 + 2 + 3] = 0xff
        cases.append(("bad UTF-8 in actor id", utf8))
        var kind = bytes
        kind[1 + 8 + 8 + 1] = UInt8(ascii: "C")
        cases.append(("upper-case kind", kind))
        for (name, input) in cases {
            #expect(throws: AuditLogError(.malformedEntry, ""), "\(name)") {
                try AuditEntry(decoding: input, context: "entry 258")
            }
        }
        do {
            _ = try AuditEntry(decoding: bytes + [0], context: "entry 258")
        } catch let error as AuditLogError {
            #expect(error.reason.hasPrefix("entry 258:"))
        }
    }

    @Test("events are validated at the boundary")
    func validation() {
        #expect(throws: AuditLogError(.invalidEvent, "")) { try AuditKind("Change Requested") }
        #expect(throws: AuditLogError(.invalidEvent, "")) { try AuditKind("") }
        #expect(throws: AuditLogError(.invalidEvent, "")) { try AuditActor(id: "", role: "operator") }
        #expect(throws: AuditLogError(.invalidEvent, "")) {
            try AuditEvent(
                timeMilliseconds: 0,
                actor: try AuditActor(id: "a", role: "operator"),
                kind: .login,
                pumpSerial: String(repeating: "x", count: 300)
            )
        }
    }
}

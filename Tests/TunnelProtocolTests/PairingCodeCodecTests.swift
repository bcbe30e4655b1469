import Testing
import TherapyModel
import TunnelProtocol

@Suite("Pairing code codec")
struct PairingCodeCodecTests {
    static let nonce: [UInt8] = Array(0..<16)
    static let code = try! PairingCode(
        serial: "PUMP-0001",
        nonce: nonce,
        expiresAt: Timestamp(millisecondsSinceEpoch: 1_790_000_600_000)
    )
    static let signed = try! SignedPairingCode(code, signature: [UInt8](repeating: 0x5A, count: 64))

    @Test("the body is version, serial length, serial, nonce, expiry: 27 + serial bytes")
    func bodyLayout() throws {
        let body = Self.code.fieldBytes
        #expect(body.count == 2 + 9 + 16 + 8)
        #expect(body[0] == 1)
        #expect(body[1] == 9)
        #expect(Array(body[2..<11]) == Array("PUMP-0001".utf8))
        #expect(Array(body[11..<27]) == Self.nonce)
        #expect(try PairingCode.decodeFields(body[...]) == Self.code)
    }

    @Test("the text form round-trips and fits the table's lengths")
    func textRoundTrip() throws {
        let text = Self.signed.text
        #expect(text.hasPrefix("MTPAIR1."))
        #expect(text.utf8.allSatisfy { $0 < 0x80 && $0 > 0x20 })
        #expect(text.utf8.count <= SignedPairingCode.maximumTextLength)
        #expect(try SignedPairingCode(text: text) == Self.signed)
        let longest = try PairingCode(
            serial: String(repeating: "P", count: 64),
            nonce: Self.nonce,
            expiresAt: Timestamp(millisecondsSinceEpoch: .max)
        )
        #expect(try SignedPairingCode(longest, signature: Self.signed.signature).text.utf8.count == 215)
    }

    @Test("the signed message is the context then the body")
    func signedMessage() {
        #expect(Self.signed.signedMessage == PairingCode.signingContext + Self.code.fieldBytes)
        #expect(PairingCode.signingContext != CommandAcknowledgement.signingContext)
    }

    @Test("malformed texts are refused with their code")
    func malformed() throws {
        let text = Self.signed.text
        let parts = text.dropFirst(8).split(separator: ".")
        let cases: [(String, TunnelProtocolError.Code)] = [
            ("", .unsupportedVersion),
            ("MTPAIR2." + parts.joined(separator: "."), .unsupportedVersion),
            (String(text.dropLast()), .invalidField),  // the signature's last character cut: not canonical
            ("MTPAIR1." + parts[0] + "." + Base64URL.encode([UInt8](repeating: 1, count: 63)), .badLength),
            ("MTPAIR1." + parts[0], .invalidField),
            (text + ".x", .invalidField),
            ("MTPAIR1." + parts[0] + "=." + parts[1], .invalidField),
            ("MTPAIR1." + parts[0] + " ." + parts[1], .invalidField),
            ("MTPAIR1." + Base64URL.encode(Array(Self.code.fieldBytes.prefix(26))) + "." + parts[1], .badLength),
            (text + String(repeating: "A", count: 300), .badLength),
        ]
        for (input, code) in cases {
            let error = #expect(throws: TunnelProtocolError.self, "\(input.prefix(40))") {
                try SignedPairingCode(text: input)
            }
            #expect(error?.code == code, "\(input.prefix(40))")
        }
    }

    @Test("a body whose serial length disagrees with its size is refused before reading on")
    func serialLengthMismatch() throws {
        var body = Self.code.fieldBytes
        body[1] = 10
        #expect(throws: TunnelProtocolError(.badLength, "")) { try PairingCode.decodeFields(body[...]) }
        body[1] = 9
        body[0] = 2
        #expect(throws: TunnelProtocolError(.unsupportedVersion, "")) { try PairingCode.decodeFields(body[...]) }
        body[0] = 1
        #expect(throws: TunnelProtocolError(.badLength, "")) { try PairingCode.decodeFields(body.dropLast()) }
    }

    @Test("a serial that is not a device name, or a short nonce, is refused")
    func invalidFields() {
        #expect(throws: TunnelProtocolError(.invalidField, "")) {
            try PairingCode(serial: "PUMP 1", nonce: Self.nonce, expiresAt: Timestamp(millisecondsSinceEpoch: 0))
        }
        #expect(throws: TunnelProtocolError(.invalidField, "")) {
            try PairingCode(serial: "PUMP-1", nonce: [1, 2], expiresAt: Timestamp(millisecondsSinceEpoch: 0))
        }
    }

    @Test("base64url is strict: every byte string has exactly one text")
    func base64URL() {
        for count in 0..<8 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 * 77 + 255) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text[...]) == bytes)
        }
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.decode("-_9") == nil)  // unused low bits set
        #expect(Base64URL.decode("A") == nil)
        #expect(Base64URL.decode("AA==") == nil)
    }

    @Test("the pairing offer is 24 bytes: nonce, expiry")
    func offerFrame() throws {
        let offer = InnerMessage.PairingOffer(Self.code)
        let frame = InnerMessage.pairingOffer(offer).encoded()
        #expect(frame.count == 3 + 24)
        #expect(Array(frame.prefix(3)) == [0x04, 0x00, 24])
        #expect(Array(frame[3..<19]) == Self.nonce)
        var decoder = InnerFrameDecoder()
        decoder.append(frame)
        #expect(try decoder.next() == .pairingOffer(offer))
    }

    @Test("truncated and oversized pairing offers are refused as badLength")
    func offerLengths() throws {
        for length in [0, 16, 23, 25, 40] {
            var decoder = InnerFrameDecoder()
            decoder.append([0x04, 0x00, UInt8(length)] + [UInt8](repeating: 1, count: length))
            #expect(throws: TunnelProtocolError(.badLength, ""), "length \(length)") { try decoder.next() }
        }
        #expect(throws: TunnelProtocolError(.invalidField, "")) {
            try InnerMessage.PairingOffer(nonce: [1], expiresAtMilliseconds: 0)
        }
    }
}

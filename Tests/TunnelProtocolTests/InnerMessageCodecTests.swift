import Testing
import TunnelProtocol

@Suite("Inner message codec")
struct InnerMessageCodecTests {
    static let samples: [InnerMessage] = [
        .hello(
            try! .init(lastAppliedSequence: 7, settingsDigest: [UInt8](repeating: 0xAB, count: 32), firmware: "sim-1.0")
        ),
        .hello(
            try! .init(
                lastAppliedSequence: 9,
                settingsDigest: [UInt8](repeating: 0xCD, count: 32),
                firmware: "fw-2",
                mode: [.lockedOut, .suspended],
                model: "Demo 0.05 U pump"
            )
        ),
        .telemetry(
            .init(
                sequence: 42,
                timeMilliseconds: 1_790_000_000_000,
                reservoirMilliunits: 150_000,
                basalRateMilliunitsPerHour: 850,
                glucoseMgPerDL: 112,
                batteryPercent: 88,
                flags: [.suspended]
            )
        ),
        .heartbeat(nonce: .max),
        .helloAccepted(version: 1, gatewayTimeMilliseconds: -5),
        .telemetryStored(sequence: 42),
        .heartbeatReply(nonce: 0),
    ]

    @Test("every message survives encode then decode, whole and one byte at a time")
    func roundTrip() throws {
        for message in Self.samples {
            var decoder = InnerFrameDecoder()
            decoder.append(message.encoded())
            #expect(try decoder.next() == message)
            #expect(try decoder.next() == nil)

            var bytewise = InnerFrameDecoder()
            var decoded: [InnerMessage] = []
            for byte in message.encoded() {
                bytewise.append([byte])
                while let m = try bytewise.next() { decoded.append(m) }
            }
            #expect(decoded == [message])
        }
    }

    @Test("several frames in one chunk come out in order")
    func concatenated() throws {
        var decoder = InnerFrameDecoder()
        decoder.append(Self.samples.flatMap { $0.encoded() })
        var out: [InnerMessage] = []
        while let m = try decoder.next() { out.append(m) }
        #expect(out == Self.samples)
        #expect(decoder.pendingByteCount == 0)
    }

    @Test("an unknown type is refused")
    func unknownType() {
        var decoder = InnerFrameDecoder()
        decoder.append([0x7F, 0, 0])
        #expect(throws: TunnelProtocolError(.unknownType, "")) { try decoder.next() }
    }

    @Test("a body length other than the type's is refused before the body is read")
    func badLength() {
        var decoder = InnerFrameDecoder()
        decoder.append([0x03, 0, 9])  // heartbeat is exactly 8
        #expect(throws: TunnelProtocolError(.badLength, "")) { try decoder.next() }
        var huge = InnerFrameDecoder()
        huge.append([0x01, 0xFF, 0xFF])
        #expect(throws: TunnelProtocolError(.badLength, "")) { try huge.next() }
    }

    @Test("a hello whose firmware or model length disagrees with the frame is refused")
    func helloInnerLength() {
        // hello: type, length u16, version, sequence u64, digest [32], firmware length at 3 + 42.
        var long = Self.samples[0].encoded()
        long[3 + 41] = 200  // more firmware than the frame carries
        var decoder = InnerFrameDecoder()
        decoder.append(long)
        #expect(throws: TunnelProtocolError(.badLength, "")) { try decoder.next() }
        var model = Self.samples[0].encoded()
        model[model.count - 1] = 5  // the model length byte of an empty model: 5 bytes, none carried
        var second = InnerFrameDecoder()
        second.append(model)
        #expect(throws: TunnelProtocolError(.badLength, "")) { try second.next() }
        var short = Self.samples[0].encoded()
        short[3 + 41] = 3  // the firmware's 4th byte ('-') would be read as the mode: unknown bits
        var third = InnerFrameDecoder()
        third.append(short)
        #expect(throws: TunnelProtocolError(.invalidField, "")) { try third.next() }
    }

    @Test("a version 1 hello (firmware last, no mode or model) is still read")
    func helloVersion1() throws {
        let digest = [UInt8](repeating: 0x11, count: 32)
        var body: [UInt8] = [1] + [UInt8](repeating: 0, count: 7) + [3] + digest + [5] + Array("sim-1".utf8)
        body = [0x01, 0, UInt8(body.count)] + body
        var decoder = InnerFrameDecoder()
        decoder.append(body)
        guard case .hello(let hello)? = try decoder.next() else {
            Issue.record("not a hello")
            return
        }
        #expect(hello.version == 1 && hello.lastAppliedSequence == 3 && hello.firmware == "sim-1")
        #expect(hello.mode == [] && hello.model == "")
    }

    @Test("a battery above 100 % is refused")
    func invalidField() {
        guard case .telemetry(var t) = Self.samples[2] else { return }
        t.batteryPercent = 101
        var decoder = InnerFrameDecoder()
        decoder.append(InnerMessage.telemetry(t).encoded())
        #expect(throws: TunnelProtocolError(.invalidField, "")) { try decoder.next() }
    }

    @Test("random bytes never crash the decoder (seeded fuzz)")
    func fuzz() {
        var rng = SplitMix64(seed: 0x4D54_554E)
        for _ in 0..<20_000 {
            var decoder = InnerFrameDecoder()
            let count = Int(rng.next() % 80)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if !bytes.isEmpty, rng.next() % 2 == 0 {
                // Bias towards valid type bytes so bodies are exercised too.
                bytes[0] = [0x01, 0x02, 0x03, 0x81, 0x82, 0x83][Int(rng.next() % 6)]
            }
            decoder.append(bytes)
            while true {
                do {
                    guard try decoder.next() != nil else { break }
                } catch {
                    break
                }
            }
        }
    }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Testing
import TherapyModel
import TunnelProtocol

@Suite("Command envelope codec")
struct CommandEnvelopeCodecTests {
    /// The code `body` throws, or nil when it does not throw.
    static func code<T>(_ body: () throws -> T) -> TunnelProtocolError.Code? {
        do {
            _ = try body()
            return nil
        } catch let error as TunnelProtocolError {
            return error.code
        } catch {
            Issue.record("not a TunnelProtocolError: \(error)")
            return nil
        }
    }

    @Test("every command kind survives encode then decode, as a frame and bytewise", arguments: CommandSamples.commands)
    func roundTrip(command: PumpCommand) throws {
        let signed = CommandSamples.signed(command)
        let decoded = try SignedCommand.decode(signed.encoded[...])
        #expect(decoded == signed)
        #expect(decoded.envelope.command == command)
        #expect(decoded.envelope.command.kind == command.kind)
        #expect(decoded.signedMessage == CommandEnvelope.signingContext + signed.envelope.fieldBytes)

        #expect(InnerMessage.command(signed) == .command(body: signed.encoded))
        var frames = InnerFrameDecoder()
        for byte in InnerMessage.command(signed).encoded() {
            frames.append([byte])
            if let message = try frames.next() {
                #expect(message == .command(body: signed.encoded))
            }
        }
        #expect(frames.pendingByteCount == 0)
    }

    @Test("the largest payload (48 correction ranges, 64-character serial) fits the frame limit")
    func largest() throws {
        let signed = CommandSamples.signed(CommandSamples.largest, serial: String(repeating: "S", count: 64))
        #expect(signed.encoded.count == InnerFrame.maximumBodyLength)
        #expect(try SignedCommand.decode(signed.encoded[...]) == signed)
        var frames = InnerFrameDecoder()
        frames.append(InnerMessage.command(body: signed.encoded).encoded())
        #expect(try frames.next() == .command(body: signed.encoded))
    }

    @Test("a bolus envelope for PUMP-0001 is 117 bytes on the wire; its acknowledgement 169")
    func sizes() {
        let bolus = CommandSamples.signed(.change(.bolus(Milliunits(2_000))))
        #expect(InnerMessage.command(body: bolus.encoded).encoded().count == 117)
        #expect(InnerMessage.acknowledgement(CommandSamples.acknowledgement(.applied)).encoded().count == 169)
    }

    @Test("every truncation of every envelope is refused as badLength", arguments: CommandSamples.commands)
    func truncations(command: PumpCommand) {
        let body = CommandSamples.signed(command).encoded
        for length in 0..<body.count {
            #expect(Self.code { try SignedCommand.decode(body[0..<length]) } == .badLength, "length \(length)")
        }
    }

    @Test("a payload length that lies is refused as badLength", arguments: CommandSamples.commands)
    func payloadLengthLies(command: PumpCommand) {
        let signed = CommandSamples.signed(command)
        let body = signed.encoded
        let offset = signed.envelope.fieldBytes.count - payloadLength(of: signed) - 2
        let truth = payloadLength(of: signed)
        for lie in 0...700 where lie != truth {
            var forged = body
            forged[offset] = UInt8(lie >> 8)
            forged[offset + 1] = UInt8(lie & 0xFF)
            #expect(Self.code { try SignedCommand.decode(forged[...]) } == .badLength, "payload length \(lie)")
        }
    }

    private func payloadLength(of signed: SignedCommand) -> Int {
        let fields = signed.envelope.fieldBytes
        let serialLength = Int(fields[1])
        return fields.count - (2 + serialLength + 8 + 8 + 8 + 8 + 1 + 2)
    }

    @Test("a serial length that lies never decodes")
    func serialLengthLies() {
        let body = CommandSamples.signed(.change(.bolus(Milliunits(2_000)))).encoded
        for lie in 0...255 where lie != CommandSamples.serial.utf8.count {
            var forged = body
            forged[1] = UInt8(lie)
            #expect(Self.code { try SignedCommand.decode(forged[...]) } != nil, "serial length \(lie)")
        }
        var long = body
        long[1] = 200
        #expect(Self.code { try SignedCommand.decode(long[...]) } == .badLength)
    }

    @Test("a schedule whose count disagrees with its payload is refused as badLength")
    func scheduleCountLie() {
        let signed = CommandSamples.signed(CommandSamples.commands[0])  // two basal entries
        var body = signed.encoded
        let countOffset = signed.envelope.fieldBytes.count - 11
        #expect(body[countOffset] == 2)
        body[countOffset] = 1
        #expect(Self.code { try SignedCommand.decode(body[...]) } == .badLength)
        body[countOffset] = 3
        #expect(Self.code { try SignedCommand.decode(body[...]) } == .badLength)
    }

    @Test("fields the spec does not allow are refused with their code")
    func invalidFields() {
        let bolus = CommandSamples.signed(.change(.bolus(Milliunits(2_000)))).encoded
        var version = bolus
        version[0] = 2
        #expect(Self.code { try SignedCommand.decode(version[...]) } == .unsupportedVersion)

        let kindOffset = 2 + 9 + 32
        var kind = bolus
        kind[kindOffset] = 0x3F
        #expect(Self.code { try SignedCommand.decode(kind[...]) } == .invalidField)

        var serial = bolus
        serial[2] = UInt8(ascii: "/")
        #expect(Self.code { try SignedCommand.decode(serial[...]) } == .invalidField)

        var sequenceZero = bolus
        for index in 11..<19 { sequenceZero[index] = 0 }
        #expect(Self.code { try SignedCommand.decode(sequenceZero[...]) } == .invalidField)

        // Expiry pushed one millisecond past the bolus lifetime.
        var late = bolus
        late[34] &+= 1
        #expect(Self.code { try SignedCommand.decode(late[...]) } == .invalidField)

        let lockout = CommandSamples.signed(.lockoutStart(suspendDelivery: true))
        var flags = lockout.encoded
        flags[lockout.envelope.fieldBytes.count - 1] = 0x03
        #expect(Self.code { try SignedCommand.decode(flags[...]) } == .invalidField)

        // Basal entries out of order: slot 12 first.
        let basal = CommandSamples.signed(CommandSamples.commands[0])
        var unsorted = basal.encoded
        unsorted[basal.envelope.fieldBytes.count - 10] = 12
        #expect(Self.code { try SignedCommand.decode(unsorted[...]) } == .invalidField)

        let range = CommandSamples.signed(CommandSamples.commands[7])
        var inverted = range.encoded
        let upper = range.envelope.fieldBytes.count - 9 - 1  // the first entry's upper bound, last byte
        inverted[upper] = 0
        #expect(Self.code { try SignedCommand.decode(inverted[...]) } == .invalidField)
    }

    @Test("the envelope initializer refuses what it cannot sign")
    func initializerRefusals() {
        let issued = CommandSamples.issued
        func make(
            serial: String = "PUMP-0001",
            sequence: UInt64 = 1,
            expires: Int64 = 60_000,
            _ command: PumpCommand = .change(.bolus(Milliunits(1_000)))
        ) -> TunnelProtocolError.Code? {
            Self.code {
                try CommandEnvelope(
                    serial: serial,
                    sequence: sequence,
                    issuedAt: issued,
                    expiresAt: Timestamp(millisecondsSinceEpoch: issued.millisecondsSinceEpoch + expires),
                    auditIndex: 0,
                    command: command
                )
            }
        }
        #expect(make() == nil)
        #expect(make(serial: "") == .invalidField)
        #expect(make(sequence: 0) == .invalidField)
        #expect(make(expires: 0) == .invalidField)
        #expect(make(expires: 5 * 60_000 + 1) == .invalidField)
        #expect(make(expires: 24 * 3_600_000, .change(.setMaxBolus(Milliunits(5_000)))) == nil)
        #expect(make(.change(.bolus(Milliunits(-50)))) == .invalidField)
        #expect(make(.change(.bolus(Milliunits(Int64(UInt32.max) + 1)))) == .invalidField)
        #expect(make(.change(.tempBasal(rate: MilliunitsPerHour(100), durationMinutes: 70_000))) == .invalidField)
        #expect(make(.change(.tempBasal(rate: MilliunitsPerHour(-1), durationMinutes: 30))) == .invalidField)
    }

    @Test("the lifetime table: deliveries minutes, settings a day, lift an hour")
    func lifetimes() {
        let minute: Int64 = 60_000
        let expected: [CommandKind: Int64] = [
            .bolus: 5 * minute, .tempBasal: 5 * minute, .suspend: 5 * minute, .resume: 5 * minute,
            .setBasalSchedule: 1_440 * minute, .setMaxBasal: 1_440 * minute, .setMaxBolus: 1_440 * minute,
            .setCarbRatios: 1_440 * minute, .setSensitivities: 1_440 * minute, .setCorrectionRange: 1_440 * minute,
            .setSuspendThreshold: 1_440 * minute, .lockoutStart: 1_440 * minute, .lockoutLift: 60 * minute,
        ]
        for kind in CommandKind.allCases {
            #expect(CommandLifetime.maximumMilliseconds(for: kind) == expected[kind], "\(kind)")
        }
        let bolus = CommandSamples.envelope(.change(.bolus(Milliunits(1_000))))
        #expect(bolus.expiresAt.millisecondsSinceEpoch - bolus.issuedAt.millisecondsSinceEpoch == 5 * minute)
    }

    @Test("every bit flip of an envelope either fails to decode or decodes to exactly the flipped bytes")
    func bitFlips() throws {
        let body = CommandSamples.signed(CommandSamples.commands[7]).encoded
        for bit in 0..<(body.count * 8) {
            var flipped = body
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            guard let decoded = try? SignedCommand.decode(flipped[...]) else { continue }
            #expect(decoded.encoded == flipped)
        }
    }

    @Test("random bodies never crash the envelope, acknowledgement or frame decoders (seeded fuzz)")
    func fuzz() {
        var rng = SplitMix64(seed: 0x434D_4431)
        let valid = CommandSamples.signed(CommandSamples.commands[0]).encoded
        let ack = CommandSamples.acknowledgement(.applied).encoded
        for round in 0..<20_000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0: bytes = (0..<Int(rng.next() % 700)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1:
                bytes = valid
                for _ in 0..<(1 + rng.next() % 4) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(rng.next() & 0xFF)
                }
            default:
                bytes = ack
                for _ in 0..<(1 + rng.next() % 4) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(rng.next() & 0xFF)
                }
            }
            _ = try? SignedCommand.decode(bytes[...])
            _ = try? SignedAcknowledgement.decode(bytes[...])
            var frames = InnerFrameDecoder()
            frames.append(
                [rng.next() % 2 == 0 ? 0x10 : 0x90, UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
            )
            _ = try? frames.next()
        }
    }
}

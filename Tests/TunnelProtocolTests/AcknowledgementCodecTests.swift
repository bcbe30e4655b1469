import Testing
import TherapyModel
import TunnelProtocol

@Suite("Acknowledgement codec and canonical settings")
struct AcknowledgementCodecTests {
    static func code<T>(_ body: () throws -> T) -> TunnelProtocolError.Code? { CommandEnvelopeCodecTests.code(body) }

    @Test(
        "every result, including every hard-limit code, survives a frame round trip",
        arguments: CommandSamples.results
    )
    func roundTrip(result: CommandResult) throws {
        let signed = CommandSamples.acknowledgement(result, mode: [.lockedOut, .suspended])
        var frames = InnerFrameDecoder()
        frames.append(InnerMessage.acknowledgement(signed).encoded())
        let message = try frames.next()
        #expect(message == .acknowledgement(signed))
        guard case .acknowledgement(let decoded) = message else { return }
        #expect(decoded.acknowledgement.result == result)
        #expect(decoded.signedMessage == CommandAcknowledgement.signingContext + signed.acknowledgement.fieldBytes)
    }

    @Test("refusal names are stable")
    func names() {
        #expect(CommandRefusal.replayedSequence.description == "replayed_sequence")
        #expect(CommandRefusal.hardLimit(.bolusAboveMaxBolus).description == "hard_limit:max_bolus_exceeded")
        #expect(CommandRefusal.badSignature.code == 2)
    }

    @Test("every truncation of an acknowledgement is refused as badLength")
    func truncations() {
        let body = CommandSamples.acknowledgement(.refused(.hardLimit(.incrementMismatch))).encoded
        for length in 0..<body.count {
            #expect(Self.code { try SignedAcknowledgement.decode(body[0..<length]) } == .badLength, "length \(length)")
        }
        var frames = InnerFrameDecoder()
        frames.append([0x90, 0, 157])  // one byte below the shortest acknowledgement
        #expect(Self.code { try frames.next() } == .badLength)
    }

    @Test("result, detail and mode bytes outside the tables are refused as invalidField")
    func invalidFields() {
        let body = CommandSamples.acknowledgement(.applied).encoded
        let resultOffset = 2 + 9 + 8 + 32
        for (code, detail) in [(0, 1), (1, 1), (0x08, 0), (0x08, 14), (0x0A, 1), (0x0B, 0), (0xFF, 0)] {
            var forged = body
            forged[resultOffset] = UInt8(code)
            forged[resultOffset + 1] = UInt8(detail)
            #expect(Self.code { try SignedAcknowledgement.decode(forged[...]) } == .invalidField, "\(code)/\(detail)")
        }
        var mode = body
        mode[resultOffset + 2] = 0x04
        #expect(Self.code { try SignedAcknowledgement.decode(mode[...]) } == .invalidField)
        var version = body
        version[0] = 9
        #expect(Self.code { try SignedAcknowledgement.decode(version[...]) } == .unsupportedVersion)
    }

    static let settings = TherapySettings(
        basalSchedule: CommandSamples.schedule([(0, MilliunitsPerHour(800)), (360, MilliunitsPerHour(1_000))]),
        maxBasalRate: MilliunitsPerHour(3_000),
        maxBolus: Milliunits(10_000),
        carbRatioSchedule: .init(constant: CarbRatio(gramsPerUnit: 10)),
        sensitivitySchedule: .init(constant: InsulinSensitivity(mgdLPerUnit: 45)),
        correctionRangeSchedule: .init(
            constant: try! CorrectionRange(lower: GlucoseMgdL(100), upper: GlucoseMgdL(120))
        ),
        suspendThreshold: GlucoseMgdL(75)
    )

    @Test("canonical settings bytes read back to the same settings; any change changes them")
    func canonicalSettings() throws {
        let bytes = SettingsDigest.canonicalBytes(of: Self.settings)
        #expect(try SettingsDigest.decode(bytes[...]) == Self.settings)
        #expect(SettingsDigest.message(for: Self.settings) == SettingsDigest.context + bytes)
        let changed = Self.settings.applying(.setMaxBolus(Milliunits(10_050)))
        #expect(SettingsDigest.canonicalBytes(of: changed) != bytes)
        var negative = Self.settings
        negative.suspendThreshold = GlucoseMgdL(-1)
        #expect(try SettingsDigest.decode(SettingsDigest.canonicalBytes(of: negative)[...]) == negative)
    }

    @Test("truncated or padded canonical settings are refused as badLength")
    func settingsTruncation() {
        let bytes = SettingsDigest.canonicalBytes(of: Self.settings)
        for length in 0..<bytes.count {
            #expect(Self.code { try SettingsDigest.decode(bytes[0..<length]) } == .badLength, "length \(length)")
        }
        #expect(Self.code { try SettingsDigest.decode((bytes + [0])[...]) } == .badLength)
    }
}

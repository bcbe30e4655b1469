import MedTunnelIdentity
public import TherapyModel

/// The pump's signed answer to one command frame (frame type 0x90, pump → gateway); every
/// command frame gets exactly one, even one the pump could not read. All integers
/// big-endian; `n` is the serial length:
///
/// | offset | size | field                                                                       |
/// |--------|------|-----------------------------------------------------------------------------|
/// | 0      | 1    | format version, 1                                                           |
/// | 1      | 1    | n, serial length, 1…64                                                      |
/// | 2      | n    | the pump's own serial (not the envelope's: a wrongSerial ack names the pump)|
/// | 2+n    | 8    | sequence u64 from the envelope; 0 when the envelope could not be read       |
/// | 10+n   | 32   | command digest: SHA-256 of the command frame body exactly as received       |
/// | 42+n   | 1    | result: 0 applied, else the refusal code (`CommandRefusal`)                 |
/// | 43+n   | 1    | detail: the hard-limit violation code for `hardLimit`, else 0               |
/// | 44+n   | 1    | pump mode after the command: bit 0 locked out, bit 1 suspended; others 0    |
/// | 45+n   | 8    | last applied sequence u64 after the command (as the hello reports it)      |
/// | 53+n   | 32   | settings digest after the command (`SettingsDigest`)                        |
/// | 85+n   | 8    | pump time, ms since 1970 UTC, i64                                           |
/// | 93+n   | 64   | signature r ‖ s by the pump's device key over SHA-256("MedTunnel acknowledgement v1\0" ‖ bytes 0 ..< 93+n) |
///
/// Body 158…221 bytes. The device key is the private key of the pump's TLS certificate, so
/// the gateway verifies an acknowledgement with that certificate's public key. The command
/// digest binds the answer to the exact bytes received: an acknowledgement cannot be
/// replayed as the answer to another command with the same sequence.
public struct CommandAcknowledgement: SignedContent {
    public static let formatVersion: UInt8 = 1
    public static let signingContext: [UInt8] = Array("MedTunnel acknowledgement v1".utf8) + [0]
    public static let digestLength = 32

    static let fixedFieldLength = 1 + 1 + 8 + 32 + 1 + 1 + 1 + 8 + 32 + 8
    static let bodyLengths =
        (fixedFieldLength + 1 + 64)...(fixedFieldLength + DeviceIdentity.maximumNameLength + 64)

    public let serial: String
    public let sequence: UInt64
    public let commandDigest: [UInt8]
    public let result: CommandResult
    public let mode: PumpMode
    public let lastAppliedSequence: UInt64
    public let settingsDigest: [UInt8]
    public let pumpTime: Timestamp
    public let fieldBytes: [UInt8]

    /// Throws `invalidField` for a serial a certificate could not carry, digests that are
    /// not 32 bytes, or unknown mode bits.
    public init(
        serial: String,
        sequence: UInt64,
        commandDigest: [UInt8],
        result: CommandResult,
        mode: PumpMode,
        lastAppliedSequence: UInt64,
        settingsDigest: [UInt8],
        pumpTime: Timestamp
    ) throws(TunnelProtocolError) {
        if let problem = DeviceIdentity.validationProblem(serial) {
            throw TunnelProtocolError(.invalidField, "acknowledgement serial \(problem)")
        }
        guard commandDigest.count == Self.digestLength, settingsDigest.count == Self.digestLength else {
            throw TunnelProtocolError(.invalidField, "acknowledgement digests are 32 bytes each")
        }
        guard PumpMode.known.isSuperset(of: mode) else {
            throw TunnelProtocolError(
                .invalidField,
                "pump mode 0x\(String(mode.rawValue, radix: 16)) sets unknown bits"
            )
        }
        var writer = ByteWriter()
        writer.append(Self.formatVersion)
        let serialBytes = Array(serial.utf8)
        writer.append(UInt8(serialBytes.count))
        writer.append(bytes: serialBytes)
        writer.append(sequence)
        writer.append(bytes: commandDigest)
        switch result {
        case .applied:
            writer.append(UInt8(0))
            writer.append(UInt8(0))
        case .refused(let refusal):
            writer.append(refusal.code)
            writer.append(refusal.detail)
        }
        writer.append(mode.rawValue)
        writer.append(lastAppliedSequence)
        writer.append(bytes: settingsDigest)
        writer.append(pumpTime.millisecondsSinceEpoch)
        self.serial = serial
        self.sequence = sequence
        self.commandDigest = commandDigest
        self.result = result
        self.mode = mode
        self.lastAppliedSequence = lastAppliedSequence
        self.settingsDigest = settingsDigest
        self.pumpTime = pumpTime
        self.fieldBytes = writer.bytes
    }

    public static func decodeFields(_ bytes: ArraySlice<UInt8>) throws(TunnelProtocolError) -> CommandAcknowledgement {
        var reader = ByteReader(bytes)
        try reader.need(2, "acknowledgement version and serial length")
        let version = reader.readUInt8()
        guard version == Self.formatVersion else {
            throw TunnelProtocolError(.unsupportedVersion, "acknowledgement format version \(version); expected 1")
        }
        let serialLength = Int(reader.readUInt8())
        guard reader.remaining == serialLength + Self.fixedFieldLength - 2 else {
            throw TunnelProtocolError(
                .badLength,
                "acknowledgement with a \(serialLength)-byte serial carries \(reader.remaining + 2) field bytes"
            )
        }
        let serial = String(decoding: reader.readSlice(serialLength), as: UTF8.self)
        let sequence = reader.readUInt64()
        let commandDigest = reader.readBytes(Self.digestLength)
        let code = reader.readUInt8()
        let detail = reader.readUInt8()
        let result: CommandResult
        if code == 0 && detail == 0 {
            result = .applied
        } else if let refusal = CommandRefusal(code: code, detail: detail) {
            result = .refused(refusal)
        } else {
            throw TunnelProtocolError(.invalidField, "acknowledgement result \(code)/\(detail) is not in the table")
        }
        let acknowledgement = try CommandAcknowledgement(
            serial: serial,
            sequence: sequence,
            commandDigest: commandDigest,
            result: result,
            mode: PumpMode(rawValue: reader.readUInt8()),
            lastAppliedSequence: reader.readUInt64(),
            settingsDigest: reader.readBytes(Self.digestLength),
            pumpTime: Timestamp(millisecondsSinceEpoch: reader.readInt64())
        )
        guard acknowledgement.fieldBytes.elementsEqual(bytes) else {
            throw TunnelProtocolError(.invalidField, "acknowledgement fields are not in their canonical encoding")
        }
        return acknowledgement
    }
}

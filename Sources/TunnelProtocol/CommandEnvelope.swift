import MedTunnelIdentity
public import TherapyModel

/// A setting change or lockout for one pump, as the gateway signs it with its command key
/// (frame type 0x10, gateway → pump). All integers big-endian; `n` is the serial length,
/// `p` the payload length:
///
/// | offset     | size | field                                                                  |
/// |------------|------|------------------------------------------------------------------------|
/// | 0          | 1    | format version, 1                                                      |
/// | 1          | 1    | n, serial length, 1…64                                                 |
/// | 2          | n    | pump serial, ASCII letters, digits, `-` `_` `.` (as in its certificate)|
/// | 2+n        | 8    | sequence u64, ≥ 1, strictly increasing per pump                        |
/// | 10+n       | 8    | issued at, ms since 1970 UTC, i64                                      |
/// | 18+n       | 8    | expires at, ms since 1970 UTC, i64; issued < expires ≤ issued + lifetime(kind) |
/// | 26+n       | 8    | audit index u64: the audit log entry that recorded the decision        |
/// | 34+n       | 1    | command kind (`PumpCommand`'s table)                                   |
/// | 35+n       | 2    | p, payload length u16, exactly the kind's length                       |
/// | 37+n       | p    | payload                                                                |
/// | 37+n+p     | 64   | signature r ‖ s over SHA-256("MedTunnel command v1\0" ‖ bytes 0 ..< 37+n+p) |
///
/// Body 102…598 bytes. Lifetimes: ``CommandLifetime``. Every field has one encoding and the
/// decoder checks that the fields re-encode to the received bytes, so the bytes verified
/// are exactly the bytes acted on. Equality and hashing cover every field.
public struct CommandEnvelope: SignedContent {
    public static let formatVersion: UInt8 = 1
    public static let signingContext: [UInt8] = Array("MedTunnel command v1".utf8) + [0]

    /// Version, serial length, sequence, issued, expires, audit index, kind, payload length.
    static let fixedFieldLength = 1 + 1 + 8 + 8 + 8 + 8 + 1 + 2
    /// The smallest and largest frame bodies, signature included.
    static let bodyLengths: ClosedRange<Int> = {
        let shortest = fixedFieldLength + 1 + 64
        let longest = fixedFieldLength + DeviceIdentity.maximumNameLength + CommandKind.maximumPayloadLength + 64
        return shortest...longest
    }()

    public let serial: String
    public let sequence: UInt64
    public let issuedAt: Timestamp
    public let expiresAt: Timestamp
    public let auditIndex: UInt64
    public let command: PumpCommand
    public let fieldBytes: [UInt8]

    /// Throws `invalidField` for a serial a certificate could not carry, sequence 0, an
    /// expiry not after the issue time or beyond the kind's lifetime, or a value the payload
    /// format cannot carry.
    public init(
        serial: String,
        sequence: UInt64,
        issuedAt: Timestamp,
        expiresAt: Timestamp,
        auditIndex: UInt64,
        command: PumpCommand
    ) throws(TunnelProtocolError) {
        if let problem = DeviceIdentity.validationProblem(serial) {
            throw TunnelProtocolError(.invalidField, "envelope serial \(problem)")
        }
        guard sequence >= 1 else {
            throw TunnelProtocolError(.invalidField, "envelope sequence 0 is never valid; sequences start at 1")
        }
        let lifetime = CommandLifetime.maximumMilliseconds(for: command.kind)
        let (window, overflow) = expiresAt.millisecondsSinceEpoch.subtractingReportingOverflow(
            issuedAt.millisecondsSinceEpoch
        )
        guard !overflow, window > 0, window <= lifetime else {
            throw TunnelProtocolError(
                .invalidField,
                "envelope validity window is not within 1…\(lifetime) ms for a \(command.kind) command"
            )
        }
        var writer = ByteWriter()
        writer.append(Self.formatVersion)
        let serialBytes = Array(serial.utf8)
        writer.append(UInt8(serialBytes.count))
        writer.append(bytes: serialBytes)
        writer.append(sequence)
        writer.append(issuedAt.millisecondsSinceEpoch)
        writer.append(expiresAt.millisecondsSinceEpoch)
        writer.append(auditIndex)
        writer.append(command.kind.rawValue)
        var payload = ByteWriter()
        try command.encodePayload(into: &payload)
        writer.append(UInt16(payload.bytes.count))
        writer.append(bytes: payload.bytes)
        self.serial = serial
        self.sequence = sequence
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.auditIndex = auditIndex
        self.command = command
        self.fieldBytes = writer.bytes
    }

    /// An envelope that lives as long as the lifetime table allows for its kind.
    public init(
        serial: String,
        sequence: UInt64,
        issuedAt: Timestamp,
        auditIndex: UInt64,
        command: PumpCommand
    ) throws(TunnelProtocolError) {
        let lifetime = CommandLifetime.maximumMilliseconds(for: command.kind)
        try self.init(
            serial: serial,
            sequence: sequence,
            issuedAt: issuedAt,
            expiresAt: Timestamp(millisecondsSinceEpoch: issuedAt.millisecondsSinceEpoch &+ lifetime),
            auditIndex: auditIndex,
            command: command
        )
    }

    public static func decodeFields(_ bytes: ArraySlice<UInt8>) throws(TunnelProtocolError) -> CommandEnvelope {
        var reader = ByteReader(bytes)
        try reader.need(2, "envelope version and serial length")
        let version = reader.readUInt8()
        guard version == Self.formatVersion else {
            throw TunnelProtocolError(.unsupportedVersion, "envelope format version \(version); this pump reads 1")
        }
        let serialLength = Int(reader.readUInt8())
        try reader.need(serialLength + Self.fixedFieldLength - 2, "envelope fields")
        let serial = String(decoding: reader.readSlice(serialLength), as: UTF8.self)
        let sequence = reader.readUInt64()
        let issuedAt = Timestamp(millisecondsSinceEpoch: reader.readInt64())
        let expiresAt = Timestamp(millisecondsSinceEpoch: reader.readInt64())
        let auditIndex = reader.readUInt64()
        let kindByte = reader.readUInt8()
        guard let kind = CommandKind(rawValue: kindByte) else {
            throw TunnelProtocolError(
                .invalidField,
                "command kind 0x\(String(kindByte, radix: 16)) is not in the table"
            )
        }
        let payloadLength = Int(reader.readUInt16())
        guard kind.allows(payloadLength: payloadLength), reader.remaining == payloadLength else {
            throw TunnelProtocolError(
                .badLength,
                "a \(kind) payload of \(payloadLength) bytes (\(reader.remaining) present) is not in the spec"
            )
        }
        let command = try PumpCommand.decodePayload(kind: kind, reader.readSlice(payloadLength))
        let envelope = try CommandEnvelope(
            serial: serial,
            sequence: sequence,
            issuedAt: issuedAt,
            expiresAt: expiresAt,
            auditIndex: auditIndex,
            command: command
        )
        guard envelope.fieldBytes.elementsEqual(bytes) else {
            throw TunnelProtocolError(.invalidField, "envelope fields are not in their canonical encoding")
        }
        return envelope
    }
}

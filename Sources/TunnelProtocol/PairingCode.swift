import MedTunnelIdentity
public import TherapyModel

/// What a pump that is not paired shows as a QR code: its serial, a one-time nonce and an
/// expiry, signed by its device key (`SignedPairingCode`). The patient's app scans it and posts
/// it (`POST /v1/pairings`); the pump also announces the nonce through its own tunnel
/// (`InnerMessage.pairingOffer`), so the gateway takes only a fresh code of a pump that is
/// really offering it, not a photo of an old one.
///
/// Fields, the signed body (all integers big-endian):
///
/// | offset | field          | size | rule                                             |
/// |--------|----------------|------|--------------------------------------------------|
/// | 0      | version        | 1    | 1                                                |
/// | 1      | serial length  | 1    | 1…64                                             |
/// | 2      | serial         | n    | the pump's certificate name (`DeviceIdentity`)   |
/// | 2+n    | nonce          | 16   | random, used once                                |
/// | 18+n   | expiry ms      | 8    | i64, ms since the epoch by the pump's clock      |
///
/// 27…90 bytes. The signature (ECDSA P-256 over SHA-256 of `signingContext ‖ body`, r ‖ s,
/// 64 bytes) follows in the text form, `PairingCode+Text.swift`.
public struct PairingCode: SignedContent {
    public static let version: UInt8 = 1
    public static let nonceLength = 16
    public static let maximumSerialLength = 64
    /// How long a code is good for after the pump makes it.
    public static let lifetimeMilliseconds: Int64 = 10 * 60 * 1000
    public static let signingContext: [UInt8] = Array("MedTunnel pairing code v1".utf8) + [0]
    /// Body lengths: version, serial length, serial (1…64), nonce, expiry.
    public static let bodyLengths = (1 + 1 + 1 + 16 + 8)...(1 + 1 + 64 + 16 + 8)

    public let serial: String
    /// 16 random bytes; the gateway accepts each once.
    public let nonce: [UInt8]
    public let expiresAt: Timestamp

    /// `serial` must be a valid device name, `nonce` 16 bytes.
    public init(serial: String, nonce: [UInt8], expiresAt: Timestamp) throws(TunnelProtocolError) {
        if let problem = DeviceIdentity.validationProblem(serial) {
            throw TunnelProtocolError(.invalidField, "pairing code serial \(problem)")
        }
        guard serial.utf8.count <= Self.maximumSerialLength else {
            throw TunnelProtocolError(.invalidField, "pairing code serial is longer than 64 bytes")
        }
        guard nonce.count == Self.nonceLength else {
            throw TunnelProtocolError(.invalidField, "pairing code nonce must be 16 bytes, not \(nonce.count)")
        }
        self.serial = serial
        self.nonce = nonce
        self.expiresAt = expiresAt
    }

    /// A code made at `now` by the pump's clock: it expires `lifetimeMilliseconds` later.
    public static func make(serial: String, nonce: [UInt8], now: Timestamp) throws(TunnelProtocolError) -> PairingCode {
        try PairingCode(
            serial: serial,
            nonce: nonce,
            expiresAt: Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch &+ Self.lifetimeMilliseconds)
        )
    }

    public var fieldBytes: [UInt8] {
        var writer = ByteWriter()
        let serial = Array(self.serial.utf8)
        writer.append(Self.version)
        writer.append(UInt8(serial.count))
        writer.append(bytes: serial)
        writer.append(bytes: self.nonce)
        writer.append(self.expiresAt.millisecondsSinceEpoch)
        return writer.bytes
    }

    public static func decodeFields(_ bytes: ArraySlice<UInt8>) throws(TunnelProtocolError) -> PairingCode {
        guard Self.bodyLengths.contains(bytes.count) else {
            throw TunnelProtocolError(
                .badLength,
                "a pairing code body is \(Self.bodyLengths) bytes, not \(bytes.count)"
            )
        }
        var reader = ByteReader(bytes)
        let version = reader.readUInt8()
        guard version == Self.version else {
            throw TunnelProtocolError(.unsupportedVersion, "pairing code version \(version); this side reads 1")
        }
        let serialLength = Int(reader.readUInt8())
        // The rest must be exactly serial, nonce and expiry: checked before reading on.
        guard reader.remaining == serialLength + Self.nonceLength + 8 else {
            throw TunnelProtocolError(
                .badLength,
                "a pairing code announces a \(serialLength)-byte serial but its body does not fit it"
            )
        }
        let serial = String(decoding: reader.readBytes(serialLength), as: UTF8.self)
        let nonce = reader.readBytes(Self.nonceLength)
        let expiry = reader.readInt64()
        return try PairingCode(serial: serial, nonce: nonce, expiresAt: Timestamp(millisecondsSinceEpoch: expiry))
    }
}

/// A pairing code with the pump's signature.
public typealias SignedPairingCode = Signed<PairingCode>

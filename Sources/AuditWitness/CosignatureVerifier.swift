public import Crypto
import Foundation

/// Checks C2SP tlog-cosignature `cosignature/v1` signatures (Ed25519) by one witness.
///
/// Wire format (c2sp.org/tlog-cosignature), one note signature line per cosignature:
///
///     — <witness name> base64(key ID[4] || timestamp[8, big-endian u64] || Ed25519 signature[64])
///
///     key ID  = SHA-256(<name> || "\n" || 0x04 || 32-byte public key)[:4]
///     message = "cosignature/v1\n" || "time <timestamp, decimal>\n" || <checkpoint body>
///     vkey    = <name>+<hex key ID>+base64(0x04 || 32-byte public key)
///
/// Ed25519 here (not the log's ECDSA P-256): the witness is not read by pumps, and the spec defines
/// cosignatures for Ed25519 (and ML-DSA-44) only.
public struct CosignatureVerifier: Hashable, Sendable {
    public static let signatureType: UInt8 = 0x04
    static let keyIDSize = 4
    static let timestampSize = 8
    static let signatureSize = 64
    /// The decoded signature blob: key ID, timestamp, signature.
    static let blobSize = keyIDSize + timestampSize + signatureSize

    public let name: String
    public let keyID: [UInt8]
    public let publicKey: Curve25519.Signing.PublicKey

    public init(name: String, publicKey: Curve25519.Signing.PublicKey) throws {
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace || $0 == "+" }) else {
            throw WitnessError(.invalidKey, "witness name \"\(name)\": must be non-empty, without spaces or '+'")
        }
        self.name = name
        self.publicKey = publicKey
        let material = Array(name.utf8) + [0x0A, Self.signatureType] + Array(publicKey.rawRepresentation)
        self.keyID = Array(SHA256.hash(data: material).prefix(Self.keyIDSize))
    }

    /// The vkey line operators pin: `<name>+<hex key ID>+<base64(0x04 || key)>`.
    public var verifierKey: String {
        let encoded = Data([Self.signatureType] + Array(self.publicKey.rawRepresentation)).base64EncodedString()
        return "\(self.name)+\(hexString(self.keyID))+\(encoded)"
    }

    /// Parses a vkey, checking its type byte and that its key ID matches its key.
    public init(verifierKey: String) throws {
        let text = verifierKey.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let raw = Data(base64Encoded: String(parts[2])), raw.count == 33,
            raw.first == Self.signatureType,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw.dropFirst())
        else {
            throw WitnessError(
                .invalidKey,
                "witness key \"\(text.prefix(120))\": not <name>+<id>+<base64(0x04 || Ed25519 key)> (from `medtunnel witness keygen`)"
            )
        }
        try self.init(name: String(parts[0]), publicKey: key)
        guard hexString(self.keyID) == parts[1] else {
            throw WitnessError(.invalidKey, "witness key \"\(text.prefix(120))\": key ID does not match the key")
        }
    }

    /// The exact bytes a `cosignature/v1` signs for a checkpoint body at `timestamp` (seconds).
    public static func message(body: String, timestamp: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(timestamp)\n\(body)".utf8)
    }

    /// Verifies one signature line over `body` and returns its timestamp; nil when the line is by
    /// another key (the spec says to ignore those). A line by this key that fails is an error.
    public func timestamp(ofLine line: String, body: String) throws -> UInt64? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0] == "\u{2014}", fields[1] == self.name,
            let blob = Data(base64Encoded: String(fields[2])), Array(blob.prefix(Self.keyIDSize)) == self.keyID
        else { return nil }
        guard blob.count == Self.blobSize else {
            throw WitnessError(
                .invalidCosignature,
                "cosignature by \(self.name): \(blob.count) bytes, a cosignature/v1 has \(Self.blobSize)"
            )
        }
        let bytes = Array(blob)
        let timestamp = bytes[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard timestamp <= UInt64(Int64.max),
            self.publicKey.isValidSignature(
                Data(bytes[12...]),
                for: Data(Self.message(body: body, timestamp: timestamp))
            )
        else {
            throw WitnessError(.invalidCosignature, "cosignature by \(self.name) does not verify over the checkpoint")
        }
        return timestamp
    }

    /// The newest valid timestamp among `lines` by this witness over `body`; nil when none is by it.
    public func newestTimestamp(lines: [String], body: String) throws -> UInt64? {
        try lines.compactMap { try self.timestamp(ofLine: $0, body: body) }.max()
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.verifierKey == rhs.verifierKey }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.verifierKey) }
}

func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] }, as: UTF8.self)
}

public import Crypto
import Foundation

/// Checks C2SP signed notes made by one known ECDSA P-256 key.
///
/// Why ECDSA P-256 and not Ed25519: the pump verifies checkpoints with mbedTLS 2.28, which has
/// ECDSA on P-256 but no Ed25519. The C2SP signed-note signature type is 0x02 (ECDSA, as in
/// transparency-dev/witness): the signature is ASN.1 DER ECDSA over SHA-256 of the note text, and
/// the key ID is the first 4 bytes of SHA-256 of the DER SubjectPublicKeyInfo.
public struct NoteVerifier: Hashable, Sendable {
    public static let signatureType: UInt8 = 0x02

    /// The key name in signature lines, e.g. "medtunnel.local/audit".
    public let name: String
    public let keyID: [UInt8]
    public let publicKey: P256.Signing.PublicKey

    public init(name: String, publicKey: P256.Signing.PublicKey) throws {
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace || $0 == "+" }) else {
            throw AuditLogError(.invalidArgument, "key name \"\(name)\": must be non-empty, without spaces or '+'")
        }
        self.name = name
        self.publicKey = publicKey
        self.keyID = Array(SHA256.hash(data: publicKey.derRepresentation).prefix(4))
    }

    /// The verifier key in the signed-note text form: `<name>+<hex key ID>+<base64(0x02 || SPKI)>`.
    public var verifierKey: String {
        let encoded = Data([Self.signatureType] + Array(self.publicKey.derRepresentation)).base64EncodedString()
        return "\(self.name)+\(hex(self.keyID))+\(encoded)"
    }

    /// Parses a verifier key string, checking that its key ID matches its key.
    public init(verifierKey: String) throws {
        let parts = verifierKey.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let raw = Data(base64Encoded: String(parts[2])), raw.first == Self.signatureType,
            let key = try? P256.Signing.PublicKey(derRepresentation: raw.dropFirst())
        else {
            throw AuditLogError(.invalidArgument, "verifier key \"\(verifierKey)\": not <name>+<id>+<ECDSA P-256 key>")
        }
        try self.init(name: String(parts[0]), publicKey: key)
        guard hex(self.keyID) == parts[1] else {
            throw AuditLogError(.invalidArgument, "verifier key \"\(verifierKey)\": key ID does not match the key")
        }
    }

    /// Verifies `note` and returns its text. Signatures by other keys are ignored, as the spec
    /// requires; at least one signature must be from this key and every one from it must verify.
    public func verify(note: String, context: String) throws -> String {
        guard note.utf8.count <= 16_384 else { throw AuditLogError(.invalidCheckpoint, "\(context): note too large") }
        guard note.unicodeScalars.allSatisfy({ $0 == "\n" || $0.value >= 0x20 }) else {
            throw AuditLogError(.invalidCheckpoint, "\(context): control characters in note")
        }
        guard let split = note.range(of: "\n\n", options: .backwards) else {
            throw AuditLogError(.invalidCheckpoint, "\(context): no blank line before the signatures")
        }
        let text = String(note[..<split.lowerBound]) + "\n"
        let signatureLines = note[split.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
        guard signatureLines.last == "", signatureLines.count >= 2 else {
            throw AuditLogError(.invalidCheckpoint, "\(context): signature lines must end in a newline")
        }
        var verified = false
        for line in signatureLines.dropLast() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 3, fields[0] == "\u{2014}", let blob = Data(base64Encoded: String(fields[2])),
                blob.count > 4
            else {
                throw AuditLogError(.invalidCheckpoint, "\(context): malformed signature line \"\(line)\"")
            }
            guard fields[1] == self.name, Array(blob.prefix(4)) == self.keyID else { continue }
            guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: blob.dropFirst(4)),
                self.publicKey.isValidSignature(signature, for: Data(text.utf8))
            else {
                throw AuditLogError(.invalidCheckpoint, "\(context): signature by \(self.name) does not verify")
            }
            verified = true
        }
        guard verified else {
            throw AuditLogError(
                .invalidCheckpoint,
                "\(context): no signature by the trusted key \(self.name) (key ID \(hex(self.keyID)))"
            )
        }
        return text
    }

    public static func == (lhs: NoteVerifier, rhs: NoteVerifier) -> Bool { lhs.verifierKey == rhs.verifierKey }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.verifierKey) }

    /// Verifies a signed checkpoint note and parses its body.
    public func verifyCheckpoint(note: String, context: String) throws -> Checkpoint {
        try Checkpoint(parsing: try self.verify(note: note, context: context), context: context)
    }
}

/// Lower-case hex, as key IDs and hashes are shown everywhere the log is read.
public func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

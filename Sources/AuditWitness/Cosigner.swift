public import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The witness's Ed25519 signing key: makes `cosignature/v1` lines (see `CosignatureVerifier`).
///
/// Key file (mode 0600, one line), in the style of Go's note signer keys:
///
///     PRIVATE+KEY+<name>+<hex key ID>+base64(0x04 || 32-byte Ed25519 seed)
///
/// The key is never printed or logged; only the vkey is.
public struct Cosigner: Sendable {
    public let verifier: CosignatureVerifier
    private let privateKey: Curve25519.Signing.PrivateKey

    public init(name: String, privateKey: Curve25519.Signing.PrivateKey) throws {
        self.privateKey = privateKey
        self.verifier = try CosignatureVerifier(name: name, publicKey: privateKey.publicKey)
    }

    /// Signs `body` (a checkpoint body, all its lines) as of `timestamp` (seconds since the epoch)
    /// and returns the note signature line, without its newline.
    public func cosign(body: String, timestamp: UInt64) throws -> String {
        let signature = try self.privateKey.signature(
            for: Data(CosignatureVerifier.message(body: body, timestamp: timestamp))
        )
        let time = (0..<8).reversed().map { UInt8(truncatingIfNeeded: timestamp >> (8 * UInt64($0))) }
        let blob = Data(self.verifier.keyID + time + Array(signature)).base64EncodedString()
        return "\u{2014} \(self.verifier.name) \(blob)"
    }

    var keyFileText: String {
        let encoded = Data([CosignatureVerifier.signatureType] + Array(self.privateKey.rawRepresentation))
            .base64EncodedString()
        return "PRIVATE+KEY+\(self.verifier.name)+\(hexString(self.verifier.keyID))+\(encoded)\n"
    }

    /// Writes a fresh key to `path` (mode 0600), refusing to replace an existing file.
    public static func generate(name: String, path: String) throws -> Cosigner {
        let cosigner = try Cosigner(name: name, privateKey: Curve25519.Signing.PrivateKey())
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let what = errno == EEXIST ? "exists already; a witness key is never replaced by keygen" : "cannot create"
            throw WitnessError(.keyFile, "\(path): \(what)")
        }
        defer { close(fd) }
        let bytes = Array(cosigner.keyFileText.utf8)
        guard fchmod(fd, 0o600) == 0, write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            unlink(path)
            throw WitnessError(.keyFile, "\(path): cannot write (\(String(cString: strerror(errno))))")
        }
        return cosigner
    }

    /// Loads a key file, refusing one readable by group or others.
    public static func load(path: String) throws -> Cosigner {
        var info = stat()
        guard stat(path, &info) == 0 else { throw WitnessError(.keyFile, "\(path): no witness key (run keygen)") }
        guard info.st_mode & 0o077 == 0 else {
            throw WitnessError(
                .keyFile,
                "\(path): readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); run chmod 600"
            )
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw WitnessError(.keyFile, "\(path): unreadable")
        }
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY",
            let raw = Data(base64Encoded: String(parts[4])), raw.count == 33,
            raw.first == CosignatureVerifier.signatureType,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw.dropFirst())
        else {
            throw WitnessError(.keyFile, "\(path): not a witness key (PRIVATE+KEY+<name>+<id>+<key>)")
        }
        let cosigner = try Cosigner(name: String(parts[2]), privateKey: key)
        guard hexString(cosigner.verifier.keyID) == parts[3] else {
            throw WitnessError(.keyFile, "\(path): the key ID does not match the key (edited file?)")
        }
        return cosigner
    }
}

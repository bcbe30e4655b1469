import AuditLog
public import Crypto
import Foundation

/// The gateway's ES256 key for bearer tokens: `STATE/token-signing-key.pem`, a P-256 key of its
/// own (never the TLS key, the command key or the checkpoint key), mode 0600, written durably on
/// first use. Its contents are never logged or printed.
public struct TokenSigningKey: Sendable {
    public static let fileName = "token-signing-key.pem"

    let privateKey: P256.Signing.PrivateKey
    /// `kid` in token headers: the first 12 bytes of SHA-256 of the public key, base64url. Lets
    /// a later key rotation tell keys apart; verification never trusts it to pick a key.
    public let keyID: String

    public init(privateKey: P256.Signing.PrivateKey) {
        self.privateKey = privateKey
        let digest = SHA256.hash(data: privateKey.publicKey.x963Representation)
        self.keyID = Base64URL.encode(Array(digest.prefix(12)))
    }

    /// A fresh key that lives only in memory (tests).
    public static func generate() -> TokenSigningKey {
        TokenSigningKey(privateKey: P256.Signing.PrivateKey())
    }

    public static func path(stateDirectory: String) -> String { "\(stateDirectory)/\(fileName)" }

    /// Loads the state directory's token key, creating the directory and the key when `create`
    /// and it is absent.
    public static func load(stateDirectory: String, create: Bool = true) throws -> TokenSigningKey {
        let path = Self.path(stateDirectory: stateDirectory)
        do {
            if create { try AuditStateDirectory(path: stateDirectory).create() }
            let pem = try StateFiles.privateKeyPEM(at: path, what: "token signing key", create: create) {
                P256.Signing.PrivateKey().pemRepresentation
            }
            guard let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) else {
                throw TokenError(.signingKey, "\(path): not a PEM ECDSA P-256 private key")
            }
            return TokenSigningKey(privateKey: key)
        } catch let error as TokenError {
            throw error
        } catch let error as AuditLogError {
            throw TokenError(.signingKey, error.reason)
        }
    }

    /// The public half, PEM: what a service that only verifies tokens needs.
    public var publicKeyPEM: String { privateKey.publicKey.pemRepresentation }
}

/// Base64url without padding (RFC 7515 §2).
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        guard text.utf8.allSatisfy(isAlphabet) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }

    /// `A-Z a-z 0-9 - _`.
    private static func isAlphabet(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }
}

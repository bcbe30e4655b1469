import Foundation

/// The client data a browser made for one ceremony (WebAuthn §5.8.1), parsed from the exact
/// bytes the authenticator's signature covers through their hash:
/// `{"type":"webauthn.get","challenge":"…","origin":"https://…","crossOrigin":false,…}`.
/// Other members (`topOrigin`, Chrome's `other_keys_can_be_added_here`) are ignored.
public struct ClientData: Sendable, Hashable {
    public enum CeremonyType: String, Sendable {
        case create = "webauthn.create"
        case get = "webauthn.get"
    }

    /// Larger than any browser's, which are a few hundred bytes.
    public static let maximumBytes = 4096

    public let type: String
    /// Base64url, exactly as sent (compared as text with the challenge issued).
    public let challenge: String
    public let origin: String
    public let crossOrigin: Bool
    /// The bytes, for their hash.
    public let raw: [UInt8]

    private struct Members: Decodable {
        let type: String
        let challenge: String
        let origin: String
        let crossOrigin: Bool?
    }

    public init(json bytes: [UInt8]) throws(PasskeyError) {
        guard bytes.count <= Self.maximumBytes else {
            throw PasskeyError(
                .clientDataMalformed,
                "clientDataJSON: \(bytes.count) bytes, at most \(Self.maximumBytes)"
            )
        }
        let members: Members
        do {
            members = try JSONDecoder().decode(Members.self, from: Data(bytes))
        } catch {
            throw PasskeyError(
                .clientDataMalformed,
                "clientDataJSON is not an object with string type, challenge and origin"
            )
        }
        self.type = members.type
        self.challenge = members.challenge
        self.origin = members.origin
        self.crossOrigin = members.crossOrigin ?? false
        self.raw = bytes
    }

    /// WebAuthn §7.1 steps 7-10 / §7.2 steps 11-14: the type, the challenge (exactly the one
    /// issued), the origin (exactly the configured one) and not in a cross-origin frame.
    public func check(
        _ type: CeremonyType,
        challenge expected: [UInt8],
        relyingParty: RelyingParty
    ) throws(PasskeyError) {
        guard self.type == type.rawValue else {
            throw PasskeyError(
                .typeMismatch,
                "clientDataJSON type '\(self.type.prefix(32))', expected '\(type.rawValue)'"
            )
        }
        guard ConstantTime.equal(challenge, Base64URLText.encode(expected)) else {
            throw PasskeyError(.challengeMismatch, "clientDataJSON names another challenge than this ceremony's")
        }
        guard origin == relyingParty.origin else {
            throw PasskeyError(
                .originMismatch,
                "clientDataJSON origin '\(origin.prefix(100))' is not \(relyingParty.origin); open the console there"
            )
        }
        guard !crossOrigin else {
            throw PasskeyError(
                .crossOriginRefused,
                "the ceremony ran in a frame of another site; open the console itself"
            )
        }
    }
}

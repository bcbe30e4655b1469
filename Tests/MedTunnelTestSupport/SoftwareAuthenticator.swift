public import Crypto
import Foundation

/// A CBOR encoder for test inputs, written apart from the gateway's decoder so each checks the
/// other. Definite lengths, shortest heads; `raw` splices bytes in as they are (malformed input).
public indirect enum TestCBOR: Sendable {
    case unsigned(UInt64)
    /// A negative integer, e.g. -7.
    case negative(Int64)
    case bytes([UInt8])
    case text(String)
    case array([TestCBOR])
    case map([(TestCBOR, TestCBOR)])
    case raw([UInt8])

    public var encoded: [UInt8] {
        switch self {
        case .unsigned(let n): Self.head(0, n)
        case .negative(let n): Self.head(1, UInt64(-1 - n))
        case .bytes(let b): Self.head(2, UInt64(b.count)) + b
        case .text(let t): Self.head(3, UInt64(t.utf8.count)) + Array(t.utf8)
        case .array(let items): Self.head(4, UInt64(items.count)) + items.flatMap(\.encoded)
        case .map(let pairs): Self.head(5, UInt64(pairs.count)) + pairs.flatMap { $0.0.encoded + $0.1.encoded }
        case .raw(let bytes): bytes
        }
    }

    static func head(_ major: UInt8, _ value: UInt64) -> [UInt8] {
        let m = major << 5
        switch value {
        case 0..<24: return [m | UInt8(value)]
        case 24..<0x100: return [m | 24, UInt8(value)]
        case 0x100..<0x10000: return [m | 25, UInt8(value >> 8), UInt8(value & 0xff)]
        case 0x10000..<0x1_0000_0000: return [m | 26] + (0..<4).reversed().map { UInt8((value >> ($0 * 8)) & 0xff) }
        default: return [m | 27] + (0..<8).reversed().map { UInt8((value >> ($0 * 8)) & 0xff) }
        }
    }
}

/// A passkey authenticator in software: a P-256 key made with swift-crypto, and the real bytes
/// a browser would hand over (clientDataJSON, CBOR attestationObject, authenticator data, DER
/// signature), so the gateway's ceremonies run end to end. Each ceremony takes `Tamper` to make
/// one specific thing wrong.
public struct SoftwareAuthenticator: Sendable {
    public let key = P256.Signing.PrivateKey()
    public let credentialID: [UInt8]
    public var rpID: String
    public var origin: String
    public var signCount: UInt32 = 0
    /// Added to signCount before each assertion (0: an authenticator without a counter).
    public var counterStep: UInt32 = 1
    public var userHandle: [UInt8] = []

    public struct Tamper: Sendable {
        public var type: String?
        public var origin: String?
        public var challenge: String?
        public var crossOrigin: Bool?
        public var rpID: String?
        /// Flags instead of UP | UV (| AT).
        public var flags: UInt8?
        public var format: String?
        public var statement: [(TestCBOR, TestCBOR)]?
        public var algorithm: Int64?
        public var signCount: UInt32?
        public var corruptSignature = false
        public var signWith: P256.Signing.PrivateKey?
        public var userHandle: [UInt8]??
        public var trailing: [UInt8] = []
        public var attestationObject: [UInt8]?

        public init() {}
    }

    public init(rpID: String, origin: String, credentialID: [UInt8]? = nil) {
        self.rpID = rpID
        self.origin = origin
        self.credentialID = credentialID ?? (0..<16).map { _ in UInt8.random(in: .min ... .max) }
    }

    public static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public static func fromBase64url(_ text: String) -> [UInt8] {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        s += String(repeating: "=", count: (4 - s.count % 4) % 4)
        return Array(Data(base64Encoded: s) ?? Data())
    }

    func clientData(_ type: String, _ challenge: String, _ tamper: Tamper) -> [UInt8] {
        let cross = (tamper.crossOrigin ?? false) ? "true" : "false"
        let json =
            #"{"type":"\#(tamper.type ?? type)","challenge":"\#(tamper.challenge ?? challenge)","#
            + #""origin":"\#(tamper.origin ?? origin)","crossOrigin":\#(cross)}"#
        return Array(json.utf8)
    }

    func authenticatorData(flags: UInt8, count: UInt32, attested: [UInt8], _ tamper: Tamper) -> [UInt8] {
        let rpHash = Array(SHA256.hash(data: Array((tamper.rpID ?? rpID).utf8)))
        let counter = (0..<4).reversed().map { UInt8((count >> ($0 * 8)) & 0xff) }
        return rpHash + [tamper.flags ?? flags] + counter + attested + tamper.trailing
    }

    /// The COSE_Key of the public key (EC2, ES256, P-256).
    public func coseKey(algorithm: Int64 = -7) -> TestCBOR {
        let x963 = Array(key.publicKey.x963Representation)
        return .map([
            (.unsigned(1), .unsigned(2)), (.unsigned(3), .negative(algorithm)), (.negative(-1), .unsigned(1)),
            (.negative(-2), .bytes(Array(x963[1...32]))), (.negative(-3), .bytes(Array(x963[33...64]))),
        ])
    }

    /// `navigator.credentials.create`: clientDataJSON and attestationObject (fmt none).
    public mutating func register(
        challenge: String,
        userHandle: [UInt8],
        tamper: Tamper = Tamper()
    ) -> (clientDataJSON: [UInt8], attestationObject: [UInt8]) {
        self.userHandle = userHandle
        let length = [UInt8(credentialID.count >> 8), UInt8(credentialID.count & 0xff)]
        let attested =
            [UInt8](repeating: 0, count: 16) + length + credentialID
            + coseKey(algorithm: tamper.algorithm ?? -7).encoded
        let authData = authenticatorData(flags: 0x45, count: tamper.signCount ?? signCount, attested: attested, tamper)
        let object = TestCBOR.map([
            (.text("fmt"), .text(tamper.format ?? "none")),
            (.text("attStmt"), .map(tamper.statement ?? [])),
            (.text("authData"), .bytes(authData)),
        ])
        return (clientData("webauthn.create", challenge, tamper), tamper.attestationObject ?? object.encoded)
    }

    public struct Assertion: Sendable {
        public let credentialID: [UInt8]
        public let clientDataJSON: [UInt8]
        public let authenticatorData: [UInt8]
        public let signature: [UInt8]
        public let userHandle: [UInt8]?

        /// As passkeys.js posts it.
        public var json: [String: Any] {
            [
                "id": SoftwareAuthenticator.base64url(credentialID), "type": "public-key",
                "response": [
                    "clientDataJSON": SoftwareAuthenticator.base64url(clientDataJSON),
                    "authenticatorData": SoftwareAuthenticator.base64url(authenticatorData),
                    "signature": SoftwareAuthenticator.base64url(signature),
                    "userHandle": userHandle.map(SoftwareAuthenticator.base64url) ?? NSNull(),
                ] as [String: Any],
            ]
        }
    }

    /// `navigator.credentials.get`: a signed assertion (the counter advances by `counterStep`).
    public mutating func assert(challenge: String, tamper: Tamper = Tamper()) -> Assertion {
        signCount += counterStep
        let authData = authenticatorData(flags: 0x05, count: tamper.signCount ?? signCount, attested: [], tamper)
        let clientDataJSON = clientData("webauthn.get", challenge, tamper)
        let message = authData + Array(SHA256.hash(data: clientDataJSON))
        var signature = Array((try! (tamper.signWith ?? key).signature(for: message)).derRepresentation)
        if tamper.corruptSignature { signature[signature.count - 3] ^= 0x01 }
        return Assertion(
            credentialID: credentialID,
            clientDataJSON: clientDataJSON,
            authenticatorData: authData,
            signature: signature,
            userHandle: tamper.userHandle ?? userHandle
        )
    }

    /// The registration as passkeys.js posts it.
    public func registrationJSON(_ made: (clientDataJSON: [UInt8], attestationObject: [UInt8])) -> [String: Any] {
        [
            "id": Self.base64url(credentialID), "type": "public-key",
            "response": [
                "clientDataJSON": Self.base64url(made.clientDataJSON),
                "attestationObject": Self.base64url(made.attestationObject),
            ],
        ]
    }
}

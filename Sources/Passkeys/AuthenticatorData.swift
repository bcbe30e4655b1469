/// Authenticator data (WebAuthn §6.1), the bytes the authenticator signs:
///
///     | offset | size | field                                                        |
///     |--------|------|--------------------------------------------------------------|
///     | 0      | 32   | rpIdHash: SHA-256 of the relying party id                    |
///     | 32     | 1    | flags: UP 0x01, UV 0x04, BE 0x08, BS 0x10, AT 0x40, ED 0x80  |
///     | 33     | 4    | signCount, big-endian                                        |
///     | 37     | var  | attested credential data, when AT:                           |
///     |        | 16   |   aaguid                                                     |
///     |        | 2    |   credentialIdLength L, big-endian (at most 1023)            |
///     |        | L    |   credentialId                                               |
///     |        | var  |   credentialPublicKey, a COSE_Key (CBOR map)                 |
///     | …      | var  | extensions, a CBOR map, when ED                              |
///
/// Nothing may follow what the flags announce.
public struct AuthenticatorData: Sendable, Hashable {
    public static let rpIDHashSize = 32
    public static let flagsOffset = 32
    public static let signCountOffset = 33
    /// rpIdHash, flags and signCount.
    public static let minimumSize = 37
    public static let aaguidSize = 16
    public static let maximumCredentialIDLength = 1023

    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let userPresent = Flags(rawValue: 0x01)
        public static let userVerified = Flags(rawValue: 0x04)
        public static let backupEligible = Flags(rawValue: 0x08)
        public static let backedUp = Flags(rawValue: 0x10)
        public static let attestedCredentialData = Flags(rawValue: 0x40)
        public static let extensionData = Flags(rawValue: 0x80)
    }

    public struct AttestedCredential: Sendable, Hashable {
        public let aaguid: [UInt8]
        public let credentialID: [UInt8]
        /// The COSE_Key as sent (the decoded map is `publicKey`).
        public let publicKeyCOSE: CBORValue
    }

    /// The bytes as received: signatures cover them exactly.
    public let raw: [UInt8]
    public let rpIDHash: [UInt8]
    public let flags: Flags
    public let signCount: UInt32
    public let attestedCredential: AttestedCredential?
    public let extensions: CBORValue?

    public init(_ bytes: [UInt8]) throws(PasskeyError) {
        guard bytes.count >= Self.minimumSize else {
            throw PasskeyError(
                .authenticatorDataMalformed,
                "authenticator data: \(bytes.count) bytes, at least \(Self.minimumSize)"
            )
        }
        raw = bytes
        rpIDHash = Array(bytes[0..<Self.rpIDHashSize])
        flags = Flags(rawValue: bytes[Self.flagsOffset])
        signCount = bytes[Self.signCountOffset..<Self.minimumSize].reduce(0) { $0 << 8 | UInt32($1) }
        var offset = Self.minimumSize
        if flags.contains(.attestedCredentialData) {
            let header = Self.aaguidSize + 2
            guard bytes.count - offset >= header else {
                throw PasskeyError(
                    .authenticatorDataMalformed,
                    "authenticator data: attested credential data cut short"
                )
            }
            let aaguid = Array(bytes[offset..<offset + Self.aaguidSize])
            offset += Self.aaguidSize
            let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            offset += 2
            guard (1...Self.maximumCredentialIDLength).contains(length) else {
                throw PasskeyError(
                    .credentialIDInvalid,
                    "authenticator data: credential id of \(length) bytes, must be 1 to \(Self.maximumCredentialIDLength)"
                )
            }
            guard bytes.count - offset >= length else {
                throw PasskeyError(.authenticatorDataMalformed, "authenticator data: credential id runs past the end")
            }
            let credentialID = Array(bytes[offset..<offset + length])
            offset += length
            let (key, used) = try CBOR.decodePrefix(bytes[offset...])
            offset += used
            attestedCredential = AttestedCredential(aaguid: aaguid, credentialID: credentialID, publicKeyCOSE: key)
        } else {
            attestedCredential = nil
        }
        if flags.contains(.extensionData) {
            let (value, used) = try CBOR.decodePrefix(bytes[offset...])
            guard case .map = value else {
                throw PasskeyError(.authenticatorDataMalformed, "authenticator data: extensions are not a CBOR map")
            }
            offset += used
            extensions = value
        } else {
            extensions = nil
        }
        guard offset == bytes.count else {
            throw PasskeyError(
                .authenticatorDataMalformed,
                "authenticator data: \(bytes.count - offset) bytes after what its flags announce"
            )
        }
    }

    /// The flag checks both ceremonies make (WebAuthn §7.1 steps 14-16, §7.2 steps 16-18):
    /// the relying party, user presence, user verification (always required here), and BS only
    /// with BE.
    func checkFlags(relyingParty: RelyingParty) throws(PasskeyError) {
        guard ConstantTime.equal(rpIDHash, relyingParty.idHash) else {
            throw PasskeyError(
                .rpIDMismatch,
                "the authenticator signed for another relying party than '\(relyingParty.id)'"
            )
        }
        guard flags.contains(.userPresent) else {
            throw PasskeyError(.userPresenceMissing, "the authenticator reports no user presence; touch it and retry")
        }
        guard flags.contains(.userVerified) else {
            throw PasskeyError(
                .userVerificationMissing,
                "the authenticator did not verify the user (PIN or biometric); use one that can"
            )
        }
        guard flags.contains(.backupEligible) || !flags.contains(.backedUp) else {
            throw PasskeyError(
                .backupFlagsInvalid,
                "the authenticator reports a backup of a credential it cannot back up"
            )
        }
    }
}

/// Comparison whose time does not depend on where the inputs differ.
public enum ConstantTime {
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    public static func equal(_ a: String, _ b: String) -> Bool { equal(Array(a.utf8), Array(b.utf8)) }
}

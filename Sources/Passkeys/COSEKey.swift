public import Crypto

/// A credential public key as COSE_Key (RFC 9053), of the one kind accepted:
///
///     | label | name | value                    |
///     |-------|------|--------------------------|
///     | 1     | kty  | 2 (EC2)                  |
///     | 3     | alg  | -7 (ES256)               |
///     | -1    | crv  | 1 (P-256)                |
///     | -2    | x    | 32-byte byte string      |
///     | -3    | y    | 32-byte byte string      |
///
/// Other labels (`kid`, `key_ops`) are ignored; a missing or different kty, alg or crv is
/// `algorithm_unsupported`, registration options ask for -7 alone.
public enum COSEKey {
    public static let keyTypeEC2: Int64 = 2
    public static let algorithmES256: Int64 = -7
    public static let curveP256: Int64 = 1
    public static let coordinateSize = 32

    public static func p256PublicKey(_ key: CBORValue) throws(PasskeyError) -> P256.Signing.PublicKey {
        guard case .map = key else {
            throw PasskeyError(.publicKeyInvalid, "the credential public key is not a COSE_Key map")
        }
        let kty = key[.unsigned(1)]?.integer
        let alg = key[.unsigned(3)]?.integer
        let crv = key[.negative(0)]?.integer
        guard kty == keyTypeEC2, alg == algorithmES256, crv == curveP256 else {
            throw PasskeyError(
                .algorithmUnsupported,
                "the credential key is kty \(kty.map(String.init) ?? "missing"), alg \(alg.map(String.init) ?? "missing"), "
                    + "crv \(crv.map(String.init) ?? "missing"); only ES256 on P-256 (kty 2, alg -7, crv 1) is accepted"
            )
        }
        guard case .bytes(let x) = key[.negative(1)], case .bytes(let y) = key[.negative(2)],
            x.count == coordinateSize, y.count == coordinateSize
        else {
            throw PasskeyError(.publicKeyInvalid, "the ES256 key's x and y must be byte strings of 32 bytes")
        }
        do {
            // x963: 0x04 || x || y; Crypto checks the point is on the curve.
            return try P256.Signing.PublicKey(x963Representation: [0x04] + x + y)
        } catch {
            throw PasskeyError(.publicKeyInvalid, "the ES256 key is not a point on P-256")
        }
    }
}

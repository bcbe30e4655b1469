public import Crypto

/// RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing with SHA-256.
///
/// leaf = SHA-256(0x00 || entry bytes); node = SHA-256(0x01 || left || right); the empty tree's
/// root is SHA-256 of nothing. The prefixes keep a leaf from ever being mistaken for a node.
public enum RFC9162 {
    public static let hashSize = 32
    public static let emptyRoot: [UInt8] = Array(SHA256.hash(data: [UInt8]()))

    public static func leafHash(_ entry: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x00])
        hasher.update(data: entry)
        return Array(hasher.finalize())
    }

    public static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x01])
        hasher.update(data: left)
        hasher.update(data: right)
        return Array(hasher.finalize())
    }
}

/// The right edge of a growing Merkle tree: the hashes of the complete subtrees that make up the
/// first `size` leaves (one per set bit of `size`, largest first). Enough to append and to compute
/// the root in O(log n) memory: the writer keeps one, and the verifier rebuilds one from scratch.
public struct MerkleFrontier: Hashable, Sendable {
    public private(set) var size: UInt64 = 0
    public private(set) var hashes: [[UInt8]] = []

    public init() {}

    /// Restores a frontier from stored subtree hashes (in `MerkleNodeID.decompose(0..<size)` order).
    public init(size: UInt64, hashes: [[UInt8]]) throws {
        guard hashes.count == size.nonzeroBitCount, hashes.allSatisfy({ $0.count == RFC9162.hashSize }) else {
            throw AuditLogError(.nodeMismatch, "tree size \(size): \(hashes.count) frontier hashes do not fit")
        }
        self.size = size
        self.hashes = hashes
    }

    /// Appends a leaf and reports every interior node it completes, lowest first.
    public mutating func append(leafHash: [UInt8], completed: (MerkleNodeID, [UInt8]) -> Void = { _, _ in }) {
        let index = self.size
        var hash = leafHash
        var level = 0
        while (index >> UInt64(level)) & 1 == 1 {
            hash = RFC9162.nodeHash(self.hashes.removeLast(), hash)
            level += 1
            completed(MerkleNodeID(level: level, index: index >> UInt64(level)), hash)
        }
        self.hashes.append(hash)
        self.size += 1
    }

    /// The root hash of the first `size` leaves (RFC 9162 MTH).
    public var root: [UInt8] { MerkleNodeID.fold(self.hashes) }
}

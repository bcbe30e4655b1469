/// A complete subtree of the log's Merkle tree: `2^level` leaves starting at leaf `index << level`.
///
/// Level 0 is a leaf. Stores persist interior nodes (level >= 1) under `storageKey`, which orders
/// nodes by the moment they become complete: the key of a node is `lastLeaf * 64 + level`. A
/// verifier can then read the stored nodes in one ordered pass alongside the entries.
public struct MerkleNodeID: Hashable, Sendable, CustomStringConvertible {
    public let level: Int
    public let index: UInt64

    public init(level: Int, index: UInt64) {
        precondition((0..<58).contains(level), "level \(level) out of range")
        self.level = level
        self.index = index
    }

    /// The leaves this node covers.
    public var leaves: Range<UInt64> { (self.index << UInt64(self.level))..<((self.index + 1) << UInt64(self.level)) }

    public var storageKey: Int64 { Int64(self.leaves.upperBound - 1) * 64 + Int64(self.level) }

    public init(storageKey: Int64) throws {
        guard storageKey >= 0, storageKey % 64 >= 1, storageKey % 64 < 58 else {
            throw AuditLogError(.nodeMismatch, "tree node key \(storageKey): not a valid interior node")
        }
        let level = Int(storageKey % 64)
        let lastLeaf = UInt64(storageKey / 64)
        guard (lastLeaf + 1) % (1 << UInt64(level)) == 0 else {
            throw AuditLogError(.nodeMismatch, "tree node key \(storageKey): not aligned to its level")
        }
        self.init(level: level, index: (lastLeaf + 1) >> UInt64(level) - 1)
    }

    public var description: String { "node(level \(self.level), index \(self.index))" }

    /// The complete subtrees that make up `range`, largest first, for ranges whose start is aligned
    /// to a power of two no smaller than their length (every range a proof or root needs).
    public static func decompose(_ range: Range<UInt64>) -> [MerkleNodeID] {
        var start = range.lowerBound
        var nodes: [MerkleNodeID] = []
        while start < range.upperBound {
            let remaining = range.upperBound - start
            var level = 63 - remaining.leadingZeroBitCount
            if start != 0 { level = min(level, start.trailingZeroBitCount) }
            nodes.append(MerkleNodeID(level: level, index: start >> UInt64(level)))
            start += 1 << UInt64(level)
        }
        return nodes
    }

    /// Folds subtree hashes (largest first, as from `decompose`) into the hash of their range.
    public static func fold(_ hashes: [[UInt8]]) -> [UInt8] {
        guard var result = hashes.last else { return RFC9162.emptyRoot }
        for hash in hashes.dropLast().reversed() {
            result = RFC9162.nodeHash(hash, result)
        }
        return result
    }
}

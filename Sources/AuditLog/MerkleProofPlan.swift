/// Which subtree hashes an RFC 9162 proof consists of, as leaf ranges, bottom-up.
///
/// Each element's hash is the fold of `MerkleNodeID.decompose(range)`, so a store that keeps every
/// complete subtree answers any proof with O(log n) lookups and no recomputation of the tree.
public enum MerkleProofPlan {
    /// RFC 9162 section 2.1.3.1, PATH(m, D[n]): the audit path of leaf `index` in a tree of `size`.
    public static func inclusion(index: UInt64, size: UInt64) throws -> [Range<UInt64>] {
        guard index < size else {
            throw AuditLogError(.invalidArgument, "inclusion proof: index \(index) is not below tree size \(size)")
        }
        var ranges: [Range<UInt64>] = []
        self.path(index, 0..<size, into: &ranges)
        return ranges
    }

    /// RFC 9162 section 2.1.4.1, PROOF(m, D[n]): the consistency proof from `oldSize` to `newSize`.
    public static func consistency(from oldSize: UInt64, to newSize: UInt64) throws -> [Range<UInt64>] {
        guard oldSize <= newSize else {
            throw AuditLogError(.invalidArgument, "consistency proof: size \(oldSize) is larger than \(newSize)")
        }
        guard oldSize > 0, oldSize < newSize else { return [] }
        var ranges: [Range<UInt64>] = []
        self.subproof(oldSize, 0..<newSize, complete: true, into: &ranges)
        return ranges
    }

    private static func path(_ index: UInt64, _ range: Range<UInt64>, into ranges: inout [Range<UInt64>]) {
        let count = range.count
        guard count > 1 else { return }
        let split = range.lowerBound + Self.largestPowerOfTwo(below: UInt64(count))
        if index < split {
            self.path(index, range.lowerBound..<split, into: &ranges)
            ranges.append(split..<range.upperBound)
        } else {
            self.path(index, split..<range.upperBound, into: &ranges)
            ranges.append(range.lowerBound..<split)
        }
    }

    private static func subproof(
        _ oldCount: UInt64,
        _ range: Range<UInt64>,
        complete: Bool,
        into ranges: inout [Range<UInt64>]
    ) {
        let count = UInt64(range.count)
        if oldCount == count {
            if !complete { ranges.append(range) }
            return
        }
        let half = Self.largestPowerOfTwo(below: count)
        let split = range.lowerBound + half
        if oldCount <= half {
            self.subproof(oldCount, range.lowerBound..<split, complete: complete, into: &ranges)
            ranges.append(split..<range.upperBound)
        } else {
            self.subproof(oldCount - half, split..<range.upperBound, complete: false, into: &ranges)
            ranges.append(range.lowerBound..<split)
        }
    }

    /// The largest power of two strictly smaller than `n` (n >= 2).
    static func largestPowerOfTwo(below n: UInt64) -> UInt64 {
        1 << UInt64(63 - (n - 1).leadingZeroBitCount)
    }
}

/// Verification of RFC 9162 inclusion and consistency proofs: plain functions over untrusted bytes.
///
/// Nothing is assumed about the inputs: every hash must be exactly 32 bytes, the proof length must
/// be exactly what the sizes imply, and the computed root must equal the given root. The algorithm
/// follows transparency-dev/merkle `proof/verify.go` (RFC 9162 sections 2.1.3.2 and 2.1.4.2).
public enum MerkleProof {
    /// Throws `.invalidProof` unless `proof` shows the leaf with `leafHash` at `index` in the tree
    /// of `size` leaves whose root is `root`.
    public static func verifyInclusion(
        index: UInt64,
        size: UInt64,
        leafHash: [UInt8],
        proof: [[UInt8]],
        root: [UInt8]
    ) throws {
        let computed = try self.rootFromInclusion(index: index, size: size, leafHash: leafHash, proof: proof)
        guard computed == root else {
            throw AuditLogError(.invalidProof, "inclusion proof for index \(index) in size \(size): root mismatch")
        }
    }

    /// The root implied by an inclusion proof.
    public static func rootFromInclusion(
        index: UInt64,
        size: UInt64,
        leafHash: [UInt8],
        proof: [[UInt8]]
    ) throws -> [UInt8] {
        let context = "inclusion proof for index \(index) in size \(size)"
        guard index < size else { throw AuditLogError(.invalidProof, "\(context): index is not below size") }
        try self.checkHashes([leafHash], "\(context): leaf hash")
        try self.checkHashes(proof, context)
        let (inner, border) = self.decompose(index: index, size: size)
        guard proof.count == inner + border else {
            throw AuditLogError(.invalidProof, "\(context): \(proof.count) hashes, expected \(inner + border)")
        }
        let seed = self.chainInner(leafHash, proof[..<inner], index: index)
        return self.chainBorderRight(seed, proof[inner...])
    }

    /// Throws `.invalidProof` unless `proof` shows that the tree of `newSize` with `newRoot` extends
    /// the tree of `oldSize` with `oldRoot`.
    public static func verifyConsistency(
        oldSize: UInt64,
        newSize: UInt64,
        oldRoot: [UInt8],
        newRoot: [UInt8],
        proof: [[UInt8]]
    ) throws {
        let context = "consistency proof from size \(oldSize) to \(newSize)"
        try self.checkHashes([oldRoot, newRoot], "\(context): root")
        try self.checkHashes(proof, context)
        if newSize < oldSize { throw AuditLogError(.invalidProof, "\(context): the new size is smaller") }
        if oldSize == newSize {
            guard proof.isEmpty, oldRoot == newRoot else {
                throw AuditLogError(.invalidProof, "\(context): equal sizes need equal roots and an empty proof")
            }
            return
        }
        if oldSize == 0 {
            guard proof.isEmpty else { throw AuditLogError(.invalidProof, "\(context): must be empty from size 0") }
            return
        }
        guard !proof.isEmpty else { throw AuditLogError(.invalidProof, "\(context): empty proof") }

        var (inner, border) = self.decompose(index: oldSize - 1, size: newSize)
        let shift = oldSize.trailingZeroBitCount
        inner -= shift
        // The proof starts with the hash of the subtree of 2^shift leaves ending at oldSize, unless
        // the old tree is exactly that subtree, whose hash is then the old root.
        var seed = proof[0]
        var start = 1
        if oldSize == 1 << UInt64(shift) {
            seed = oldRoot
            start = 0
        }
        guard proof.count == start + inner + border else {
            throw AuditLogError(.invalidProof, "\(context): \(proof.count) hashes, expected \(start + inner + border)")
        }
        let rest = proof[start...]
        let innerPart = rest.prefix(inner)
        let borderPart = rest.dropFirst(inner)
        let mask = (oldSize - 1) >> UInt64(shift)

        let computedOld = self.chainBorderRight(self.chainInnerRight(seed, innerPart, index: mask), borderPart)
        guard computedOld == oldRoot else { throw AuditLogError(.invalidProof, "\(context): old root mismatch") }
        let computedNew = self.chainBorderRight(self.chainInner(seed, innerPart, index: mask), borderPart)
        guard computedNew == newRoot else { throw AuditLogError(.invalidProof, "\(context): new root mismatch") }
    }

    private static func checkHashes(_ hashes: [[UInt8]], _ context: String) throws {
        for (position, hash) in hashes.enumerated() where hash.count != RFC9162.hashSize {
            throw AuditLogError(.invalidProof, "\(context): hash \(position) has \(hash.count) bytes, not 32")
        }
    }

    /// Splits a proof for `index` in `size` into the part below where the paths to `index` and
    /// `size - 1` meet (inner) and the part along the right border.
    private static func decompose(index: UInt64, size: UInt64) -> (inner: Int, border: Int) {
        let inner = 64 - (index ^ (size - 1)).leadingZeroBitCount
        let border = (index >> UInt64(inner)).nonzeroBitCount
        return (inner, border)
    }

    private static func chainInner(_ seed: [UInt8], _ proof: ArraySlice<[UInt8]>, index: UInt64) -> [UInt8] {
        var hash = seed
        for (level, sibling) in proof.enumerated() {
            hash = (index >> UInt64(level)) & 1 == 0 ? RFC9162.nodeHash(hash, sibling) : RFC9162.nodeHash(sibling, hash)
        }
        return hash
    }

    private static func chainInnerRight(_ seed: [UInt8], _ proof: ArraySlice<[UInt8]>, index: UInt64) -> [UInt8] {
        var hash = seed
        for (level, sibling) in proof.enumerated() where (index >> UInt64(level)) & 1 == 1 {
            hash = RFC9162.nodeHash(sibling, hash)
        }
        return hash
    }

    private static func chainBorderRight(_ seed: [UInt8], _ proof: ArraySlice<[UInt8]>) -> [UInt8] {
        proof.reduce(seed) { RFC9162.nodeHash($1, $0) }
    }
}

import AuditLog
import Testing

/// A deliberately naive RFC 9162 tree, straight from the definitions in sections 2.1.1-2.1.4,
/// memoised only so that every size from 1 to 300 stays fast.
final class NaiveTree {
    let leaves: [[UInt8]]
    private var memo: [Int: [UInt8]] = [:]

    init(leaves: [[UInt8]]) { self.leaves = leaves }

    /// MTH(D[lo:hi]).
    func hash(_ lo: Int, _ hi: Int) -> [UInt8] {
        if let cached = self.memo[lo * 100_000 + hi] { return cached }
        let n = hi - lo
        let result: [UInt8]
        if n == 0 {
            result = RFC9162.emptyRoot
        } else if n == 1 {
            result = RFC9162.leafHash(self.leaves[lo])
        } else {
            var k = 1
            while k * 2 < n { k *= 2 }
            result = RFC9162.nodeHash(self.hash(lo, lo + k), self.hash(lo + k, hi))
        }
        self.memo[lo * 100_000 + hi] = result
        return result
    }

    /// PATH(m, D[lo:hi]).
    func path(_ m: Int, _ lo: Int, _ hi: Int) -> [[UInt8]] {
        let n = hi - lo
        if n == 1 { return [] }
        var k = 1
        while k * 2 < n { k *= 2 }
        return m - lo < k
            ? self.path(m, lo, lo + k) + [self.hash(lo + k, hi)]
            : self.path(m, lo + k, hi) + [self.hash(lo, lo + k)]
    }

    /// SUBPROOF(m, D[lo:hi], b).
    func subproof(_ m: Int, _ lo: Int, _ hi: Int, _ b: Bool) -> [[UInt8]] {
        let n = hi - lo
        if m == n { return b ? [] : [self.hash(lo, hi)] }
        var k = 1
        while k * 2 < n { k *= 2 }
        return m <= k
            ? self.subproof(m, lo, lo + k, b) + [self.hash(lo + k, hi)]
            : self.subproof(m - k, lo + k, hi, false) + [self.hash(lo, lo + k)]
    }
}

@Suite("Merkle tree against a naive reference")
struct ReferenceTreeTests {
    @Test("every size 1...300: roots, all inclusion proofs, all consistency proofs")
    func everySizeUpTo300() async throws {
        let (log, store) = try await TestSupport.memoryLog(count: 300)
        let bodies = await store.entries(in: 0..<300).map(\.body)
        let naive = NaiveTree(leaves: bodies)
        #expect(await log.rootHash == naive.hash(0, 300))
        var inclusionChecked = 0
        var consistencyChecked = 0
        for size in 1...300 {
            let root = try await store.rootHash(size: UInt64(size))
            #expect(root == naive.hash(0, size), "root of size \(size)")
            for index in 0..<size {
                let proof = try await store.inclusionProof(index: UInt64(index), treeSize: UInt64(size))
                #expect(proof.hashes == naive.path(index, 0, size), "inclusion \(index) in \(size)")
                #expect(proof.leafHash == RFC9162.leafHash(bodies[index]))
                #expect(proof.rootHash == root)
                try MerkleProof.verifyInclusion(
                    index: UInt64(index),
                    size: UInt64(size),
                    leafHash: proof.leafHash,
                    proof: proof.hashes,
                    root: root
                )
                inclusionChecked += 1
            }
            for old in 1...size {
                let proof = try await store.consistencyProof(from: UInt64(old), to: UInt64(size))
                let expected = old == size ? [] : naive.subproof(old, 0, size, true)
                #expect(proof.hashes == expected, "consistency \(old) to \(size)")
                #expect(proof.oldRoot == naive.hash(0, old))
                try MerkleProof.verifyConsistency(
                    oldSize: UInt64(old),
                    newSize: UInt64(size),
                    oldRoot: proof.oldRoot,
                    newRoot: root,
                    proof: proof.hashes
                )
                consistencyChecked += 1
            }
        }
        #expect(inclusionChecked == 45_150)
        #expect(consistencyChecked == 45_150)
    }

    @Test("the empty tree's root is SHA-256 of nothing")
    func emptyRoot() {
        #expect(
            TestSupport.hex(MerkleFrontier().root) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
    }

    @Test("known RFC 6962 roots from transparency-dev/merkle's test vectors")
    func knownRoots() {
        let leaves: [[UInt8]] = [
            [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
            [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57], Array(0x60...0x6f),
        ]
        var frontier = MerkleFrontier()
        for leaf in leaves { frontier.append(leafHash: RFC9162.leafHash(leaf)) }
        #expect(TestSupport.hex(frontier.root) == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    }
}

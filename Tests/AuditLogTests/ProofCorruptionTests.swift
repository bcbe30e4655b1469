import AuditLog
import Testing

/// The corruption set of transparency-dev/merkle `proof/verify_test.go`, applied to every valid
/// proof this log generates at several sizes: every corrupted probe must be rejected. The valid
/// proofs come from each real store (SQLite, PostgreSQL), so a store that returned a wrong hash
/// for a node would fail here too.
@Suite("Proof corruption (transparency-dev set)")
struct ProofCorruptionTests {
    static let sizes: [UInt64] = Array(1...17) + [31, 32, 33, 63, 64, 65, 100, 127, 128, 129]
    static let someHash: [UInt8] = Array(repeating: 0xab, count: 16) + Array(repeating: 0x06, count: 16)

    struct Probe {
        let description: String
        let body: () throws -> Void
    }

    /// A log of 129 entries on `backend`, and its store.
    static func storedLog(_ backend: Backend) async throws -> any AuditStore {
        let log = try await backend.makeDatabase().openLog()
        for number in 0..<129 { _ = try await log.append(TestSupport.event(number)) }
        return log.store
    }

    @Test("every corrupted inclusion proof is rejected, every valid one accepted", arguments: Backend.allCases)
    func inclusion(backend: Backend) async throws {
        let store = try await Self.storedLog(backend)
        var rejected = 0
        for size in Self.sizes {
            let root = try await store.rootHash(size: size)
            for index in 0..<size {
                let valid = try await store.inclusionProof(index: index, treeSize: size)
                try MerkleProof.verifyInclusion(
                    index: index,
                    size: size,
                    leafHash: valid.leafHash,
                    proof: valid.hashes,
                    root: root
                )
                for probe in Self.corruptInclusion(
                    index: index,
                    size: size,
                    proof: valid.hashes,
                    root: root,
                    leaf: valid.leafHash
                ) {
                    #expect(
                        throws: AuditLogError(.invalidProof, ""),
                        "index \(index) size \(size): \(probe.description)"
                    ) {
                        try probe.body()
                    }
                    rejected += 1
                }
            }
        }
        #expect(rejected > 15_000)
    }

    @Test("every corrupted consistency proof is rejected, every valid one accepted", arguments: Backend.allCases)
    func consistency(backend: Backend) async throws {
        let store = try await Self.storedLog(backend)
        var rejected = 0
        for size in Self.sizes {
            let root2 = try await store.rootHash(size: size)
            for old in 1...size {
                let valid = try await store.consistencyProof(from: old, to: size)
                try MerkleProof.verifyConsistency(
                    oldSize: old,
                    newSize: size,
                    oldRoot: valid.oldRoot,
                    newRoot: root2,
                    proof: valid.hashes
                )
                guard !valid.hashes.isEmpty else { continue }  // as upstream: only non-trivial proofs
                for probe in Self.corruptConsistency(old, size, valid.oldRoot, root2, valid.hashes) {
                    #expect(throws: AuditLogError(.invalidProof, ""), "\(old)->\(size): \(probe.description)") {
                        try probe.body()
                    }
                    rejected += 1
                }
            }
        }
        #expect(rejected > 20_000)
    }

    static func corruptInclusion(index: UInt64, size: UInt64, proof: [[UInt8]], root: [UInt8], leaf: [UInt8]) -> [Probe]
    {
        func probe(_ text: String, _ i: UInt64, _ s: UInt64, _ l: [UInt8], _ p: [[UInt8]], _ r: [UInt8]) -> Probe {
            Probe(description: text) {
                try MerkleProof.verifyInclusion(index: i, size: s, leafHash: l, proof: p, root: r)
            }
        }
        var probes = [
            probe("leafIndex - 1", index &- 1, size, leaf, proof, root),
            probe("leafIndex + 1", index + 1, size, leaf, proof, root),
            probe("leafIndex ^ 2", index ^ 2, size, leaf, proof, root),
            probe("treeSize * 2", index, size * 2, leaf, proof, root),
            probe("treeSize / 2", index, size / 2, leaf, proof, root),
            probe("wrong leaf", index, size, Array("WrongLeaf".utf8), proof, root),
            probe("empty root", index, size, leaf, proof, RFC9162.emptyRoot),
            probe("random root", index, size, leaf, proof, someHash),
            probe("trailing garbage", index, size, leaf, proof + [[]], root),
            probe("trailing root", index, size, leaf, proof + [root], root),
            probe("preceding garbage", index, size, leaf, [[]] + proof, root),
            probe("preceding root", index, size, leaf, [root] + proof, root),
        ]
        for position in proof.indices {
            var wrong = proof
            wrong[position][0] ^= 8
            probes.append(probe("modified proof[\(position)] bit 3", index, size, leaf, wrong, root))
        }
        if !proof.isEmpty {
            probes.append(probe("removed component", index, size, leaf, Array(proof.dropLast()), root))
        }
        if proof.count > 1 {
            probes.append(
                probe("inserted component", index, size, leaf, [proof[0], someHash] + proof.dropFirst(), root)
            )
        }
        return probes
    }

    static func corruptConsistency(
        _ size1: UInt64,
        _ size2: UInt64,
        _ root1: [UInt8],
        _ root2: [UInt8],
        _ proof: [[UInt8]]
    ) -> [Probe] {
        func probe(_ text: String, _ s1: UInt64, _ s2: UInt64, _ r1: [UInt8], _ r2: [UInt8], _ p: [[UInt8]]) -> Probe {
            Probe(description: text) {
                try MerkleProof.verifyConsistency(oldSize: s1, newSize: s2, oldRoot: r1, newRoot: r2, proof: p)
            }
        }
        let wrongRoot = Array("WrongRoot".utf8)
        var probes = [
            probe("size1 - 1", size1 - 1, size2, root1, root2, proof),
            probe("size1 + 1", size1 + 1, size2, root1, root2, proof),
            probe("size1 ^ 2", size1 ^ 2, size2, root1, root2, proof),
            probe("size2 * 2", size1, size2 * 2, root1, root2, proof),
            probe("size2 / 2", size1, size2 / 2, root1, root2, proof),
            probe("wrong root1", size1, size2, wrongRoot, root2, proof),
            probe("wrong root2", size1, size2, root1, wrongRoot, proof),
            probe("swapped roots", size1, size2, root2, root1, proof),
            probe("empty proof", size1, size2, root1, root2, []),
            probe("trailing garbage", size1, size2, root1, root2, proof + [[]]),
            probe("trailing root1", size1, size2, root1, root2, proof + [root1]),
            probe("trailing root2", size1, size2, root1, root2, proof + [root2]),
            probe("preceding garbage", size1, size2, root1, root2, [[]] + proof),
            probe("preceding root1", size1, size2, root1, root2, [root1] + proof),
            probe("preceding root2", size1, size2, root1, root2, [root2] + proof),
            probe("preceding proof[0]", size1, size2, root1, root2, [proof[0]] + proof),
            probe("truncated proof", size1, size2, root1, root2, Array(proof.dropLast())),
        ]
        for position in proof.indices {
            var wrong = proof
            wrong[position][0] ^= 16
            probes.append(probe("modified proof[\(position)] bit 4", size1, size2, root1, root2, wrong))
        }
        return probes
    }
}

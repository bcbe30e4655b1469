import AuditLog
import Foundation
import MedTunnelTestSupport
import Testing

/// The `medtunnel audit` commands, run as an operator would.
@Suite("medtunnel audit CLI", .offThePool)
struct AuditCLITests {
    @Test("append, show, checkpoint and prove; the printed proofs verify against the signed checkpoint")
    func roundTrip() throws {
        let state = "\(TestSupport.temporaryDirectory())/state"
        for (number, pump) in ["P-1", "P-2", "P-1", "P-1", "P-3"].enumerated() {
            let result = try TestSupport.audit([
                "append", "--state-dir", state, "--kind", number == 0 ? "config.changed" : "change.requested",
                "--actor", "ops-\(number)", "--pump", pump, "--payload", #"{"n":\#(number)}"#,
            ])
            #expect(result.status == 0 && result.stdout == "appended index \(number)\n", "\(result.stderr)")
        }
        let mode = try FileManager.default.attributesOfItem(atPath: "\(state)/audit.sqlite")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let shown = try TestSupport.audit([
            "show", "--state-dir", state, "--pump", "P-1", "--kind", "change.requested", "--format", "jsonl",
        ])
        let lines = shown.stdout.split(separator: "\n").map {
            try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(lines.map { $0["index"] as? Int } == [2, 3])
        #expect((lines.first?["payload"] as? [String: Any])?["n"] as? Int == 2)
        // Entries are stamped now (no back-dating): from entry 3's own time on.
        let third = try #require(lines.last?["timeMs"] as? Int)
        let since = try TestSupport.audit(["show", "--state-dir", state, "--since", "\(third)"])
        #expect(since.stdout.split(separator: "\n").count == 3)  // header + entries 3 and 4

        let checkpoint = try TestSupport.audit(["checkpoint", "--state-dir", state])
        let verifier = try AuditStateDirectory(path: state).signer(name: TestSupport.origin, create: false).verifier
        let signed = try verifier.verifyCheckpoint(note: checkpoint.stdout, context: "printed checkpoint")
        #expect(signed.size == 5)

        let proved = try TestSupport.audit(["prove", "--state-dir", state, "--index", "3"])
        let proof = try #require(try JSONSerialization.jsonObject(with: Data(proved.stdout.utf8)) as? [String: Any])
        #expect(proof["treeSize"] as? Int == 5)
        let hashes = (proof["proof"] as? [String] ?? []).map(Self.bytes)
        let entryBytes = [UInt8](Data(base64Encoded: proof["entryBytes"] as? String ?? "") ?? Data())
        try MerkleProof.verifyInclusion(
            index: 3,
            size: 5,
            leafHash: RFC9162.leafHash(entryBytes),
            proof: hashes,
            root: signed.rootHash
        )

        let consistency = try TestSupport.audit([
            "prove", "--state-dir", state, "--consistency", "--from", "2", "--to", "5",
        ])
        let step = try #require(try JSONSerialization.jsonObject(with: Data(consistency.stdout.utf8)) as? [String: Any])
        try MerkleProof.verifyConsistency(
            oldSize: 2,
            newSize: 5,
            oldRoot: Self.bytes(step["oldRoot"] as? String ?? ""),
            newRoot: signed.rootHash,
            proof: (step["proof"] as? [String] ?? []).map(Self.bytes)
        )

        let bad = try TestSupport.audit(["prove", "--state-dir", state, "--index", "9"])
        #expect(bad.status != 0 && bad.stderr.contains("index 9"), "\(bad.stderr)")
        let badKind = try TestSupport.audit(["append", "--state-dir", state, "--kind", "Bad Kind", "--actor", "x"])
        #expect(badKind.status != 0 && badKind.stderr.contains("kind \"Bad Kind\""))
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var iterator = hex.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            out.append(UInt8(String([high, low]), radix: 16)!)
        }
        return out
    }
}

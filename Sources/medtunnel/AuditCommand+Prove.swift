import ArgumentParser
import AuditLog
import AuditTrail
import Foundation

extension AuditCommand {
    struct Prove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an entry with its inclusion proof, or a consistency proof (JSON, hashes in hex).",
            usage: """
                medtunnel audit prove --state-dir DIR --index N [--size M]
                medtunnel audit prove --state-dir DIR --consistency --from M --to N
                """
        )

        @OptionGroup var location: AuditLocation

        @Option(help: "The entry to prove.")
        var index: UInt64?

        @Option(help: "The tree size to prove against (default: the latest checkpoint covering the entry).")
        var size: UInt64?

        @Flag(help: "Print a consistency proof instead.")
        var consistency = false

        @Option(help: "Consistency: the old tree size.")
        var from: UInt64?

        @Option(help: "Consistency: the new tree size (default: the current size).")
        var to: UInt64?

        func validate() throws {
            if self.consistency {
                guard self.from != nil else { throw ValidationError("--consistency needs --from M") }
            } else {
                guard self.index != nil else {
                    throw ValidationError("give --index N, or --consistency --from M --to N")
                }
            }
        }

        func run() async throws {
            try await reportingAuditErrors {
                let store = try await self.location.directory.openStore(create: false)
                let stored = try await store.size()
                let latest = try await store.latestCheckpoint()
                if self.consistency, let from {
                    let to = self.to ?? stored
                    try self.checkSize(to, stored)
                    let proof = try await store.consistencyProof(from: from, to: to)
                    try MerkleProof.verifyConsistency(
                        oldSize: from,
                        newSize: to,
                        oldRoot: proof.oldRoot,
                        newRoot: proof.newRoot,
                        proof: proof.hashes
                    )
                    Console.out(
                        try Console.json([
                            "from": from, "to": to, "oldRoot": hexString(proof.oldRoot),
                            "newRoot": hexString(proof.newRoot),
                            "proof": proof.hashes.map(hexString),
                        ])
                    )
                } else if let index {
                    let size = self.size ?? (latest.map { $0.size > index ? $0.size : stored } ?? stored)
                    try self.checkSize(size, stored)
                    let proof = try await store.inclusionProof(index: index, treeSize: size)
                    let row = try await store.entries(in: index..<index + 1)
                    guard let row = row.first else { throw AuditLogError(.missingEntry, "entry \(index): missing") }
                    let entry = try AuditEntry(decoding: row.body, context: "entry \(index)")
                    // The leaf hash is recomputed from the entry bytes, not taken from the store.
                    try MerkleProof.verifyInclusion(
                        index: index,
                        size: size,
                        leafHash: RFC9162.leafHash(row.body),
                        proof: proof.hashes,
                        root: proof.rootHash
                    )
                    var object: [String: Any] = [
                        "index": index, "treeSize": size, "entry": AuditEntryJSON.object(entry),
                        "entryBytes": Data(row.body).base64EncodedString(), "leafHash": hexString(proof.leafHash),
                        "proof": proof.hashes.map(hexString), "rootHash": hexString(proof.rootHash),
                    ]
                    if let latest, latest.size == size { object["checkpoint"] = latest.note }
                    Console.out(try Console.json(object))
                }
            }
        }

        private func checkSize(_ size: UInt64, _ stored: UInt64) throws {
            guard size <= stored else {
                throw AuditLogError(.invalidArgument, "tree size \(size): the log has only \(stored) entries")
            }
        }
    }
}

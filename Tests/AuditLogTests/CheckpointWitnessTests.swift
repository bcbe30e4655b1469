import AuditLog
import Testing

@Suite("Signed checkpoints and the witness")
struct CheckpointWitnessTests {
    @Test("a signed checkpoint round-trips; another key, an edited body or a bad line is refused")
    func signedNotes() throws {
        let signer = try CheckpointSigner.generate(name: TestSupport.origin)
        let checkpoint = Checkpoint(origin: TestSupport.origin, size: 42, rootHash: RFC9162.leafHash([1]))
        let signed = try signer.sign(checkpoint)
        #expect(try signer.verifier.verifyCheckpoint(note: signed.note, context: "checkpoint 42") == checkpoint)
        #expect(try NoteVerifier(verifierKey: signer.verifier.verifierKey) == signer.verifier)

        let other = try CheckpointSigner.generate(name: TestSupport.origin)
        let forged = try other.sign(checkpoint)
        #expect(throws: AuditLogError(.invalidCheckpoint, "")) {
            try signer.verifier.verifyCheckpoint(note: forged.note, context: "checkpoint 42")
        }
        let edited = signed.note.replacingOccurrences(of: "\n42\n", with: "\n43\n")
        #expect(throws: AuditLogError(.invalidCheckpoint, "")) {
            try signer.verifier.verifyCheckpoint(note: edited, context: "checkpoint 42")
        }
        #expect(throws: AuditLogError(.invalidCheckpoint, "")) {
            try signer.verifier.verifyCheckpoint(note: signed.note + "garbage\n", context: "checkpoint 42")
        }
        // A note also signed by an unknown key still verifies: unknown signatures are ignored.
        let cosigned = signed.note + forged.note.split(separator: "\n").last! + "\n"
        #expect(try signer.verifier.verifyCheckpoint(note: cosigned, context: "checkpoint 42") == checkpoint)
    }

    @Test("the witness accepts extensions and refuses rollbacks, forks and other keys")
    func witness() async throws {
        let (log, store) = try await TestSupport.memoryLog(count: 20)
        let signer = log.signer
        func note(_ size: UInt64) async throws -> String {
            try signer.sign(
                Checkpoint(origin: TestSupport.origin, size: size, rootHash: try await store.rootHash(size: size))
            ).note
        }
        let first = try Witness.update(nil, note: try await note(10), verifier: signer.verifier, consistencyProof: [])
        #expect(first.size == 10)
        let proof = try await store.consistencyProof(from: 10, to: 20).hashes
        let second = try Witness.update(
            first,
            note: try await note(20),
            verifier: signer.verifier,
            consistencyProof: proof
        )
        #expect(second.size == 20)
        #expect(
            try Witness.update(second, note: try await note(20), verifier: signer.verifier, consistencyProof: [])
                == second
        )

        // Rollback: a smaller checkpoint.
        let smaller = try await note(15)
        #expect(throws: AuditLogError(.rollback, "")) {
            try Witness.update(second, note: smaller, verifier: signer.verifier, consistencyProof: [])
        }
        // Fork at the same size: another root, properly signed.
        let otherRoot = try signer.sign(
            Checkpoint(origin: TestSupport.origin, size: 20, rootHash: RFC9162.leafHash([9]))
        ).note
        #expect(throws: AuditLogError(.fork, "")) {
            try Witness.update(second, note: otherRoot, verifier: signer.verifier, consistencyProof: [])
        }
        // Fork at a larger size: a log that rewrote history cannot prove consistency.
        let rewritten = InMemoryAuditStore()
        let forger = try await AuditLog(
            store: rewritten,
            signer: signer,
            configuration: .init(origin: TestSupport.origin)
        )
        for number in 0..<30 {
            _ = try await forger.append(TestSupport.event(number, pump: number == 3 ? "EDITED" : "PUMP-1"))
        }
        let forkNote = try signer.sign(
            Checkpoint(origin: TestSupport.origin, size: 30, rootHash: try await rewritten.rootHash(size: 30))
        ).note
        let forkProof = try await rewritten.consistencyProof(from: 20, to: 30).hashes
        #expect(throws: AuditLogError(.fork, "")) {
            try Witness.update(second, note: forkNote, verifier: signer.verifier, consistencyProof: forkProof)
        }
        // Another key, even for an honest checkpoint.
        let stranger = try CheckpointSigner.generate(name: TestSupport.origin)
        let strangerNote = try stranger.sign(
            Checkpoint(origin: TestSupport.origin, size: 20, rootHash: try await store.rootHash(size: 20))
        ).note
        #expect(throws: AuditLogError(.fork, "")) {
            try Witness.update(second, note: strangerNote, verifier: stranger.verifier, consistencyProof: [])
        }
    }
}

import ArgumentParser
import AuditLog
import Foundation

extension AuditCommand {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every leaf, node and root; check every checkpoint; update the witness.",
            discussion: """
                Exits 0 when the whole log verifies; otherwise prints the first bad entry index or \
                checkpoint and exits 1 (2 when the witness refuses a rollback or fork, 3 on I/O errors).
                """
        )

        @OptionGroup var location: AuditLocation

        @Option(help: "Witness state file: remembers the last checkpoint and refuses rollbacks and forks.")
        var witness: String?

        @Option(
            name: .customLong("verifier-key"),
            help: "The trusted verifier key (<name>+<id>+<key>); default: derived from the state dir's signing key."
        )
        var verifierKey: String?

        func run() async throws {
            try await reportingAuditErrors {
                let verifier: NoteVerifier
                if let verifierKey {
                    verifier = try NoteVerifier(verifierKey: verifierKey)
                } else {
                    verifier = try self.location.directory.signer(name: self.location.origin, create: false).verifier
                }
                let store = try self.location.directory.openStore(create: false)
                let terminal = Console.stderrIsTerminal
                let report = try await LogVerifier.verify(
                    store: store,
                    verifier: verifier,
                    origin: self.location.origin
                ) {
                    done,
                    total in
                    if terminal { FileHandle.standardError.write(Data("\rverify: \(done)/\(total) entries".utf8)) }
                }
                if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
                let covered = report.latest?.checkpoint.size ?? 0
                Console.out(
                    "verified \(report.size) entries, \(report.checkpointCount) checkpoints; root \(hexString(report.rootHash))"
                )
                if covered < report.size {
                    Console.out("note: entries \(covered)..<\(report.size) are not yet covered by a signed checkpoint")
                }
                if let witness {
                    try await self.updateWitness(path: witness, store: store, latest: report.latest, verifier: verifier)
                }
            }
        }

        private func updateWitness(
            path: String,
            store: SQLiteAuditStore,
            latest: SignedCheckpoint?,
            verifier: NoteVerifier
        ) async throws {
            let state = try Witness.load(path: path)
            guard let latest else {
                if let state, state.size > 0 {
                    Console.err(
                        "audit: witness: the log has no checkpoint but the witness saw size \(state.size): rolled back"
                    )
                    throw ExitCode(2)
                }
                return
            }
            var proof: [[UInt8]] = []
            if let state, state.size > 0, state.size < latest.checkpoint.size {
                proof = try await store.consistencyProof(from: state.size, to: latest.checkpoint.size).hashes
            }
            do {
                let updated = try Witness.update(state, note: latest.note, verifier: verifier, consistencyProof: proof)
                try Witness.save(updated, path: path)
                Console.out("witness: accepted checkpoint \(updated.size)")
            } catch let error as AuditLogError where error.code == .rollback || error.code == .fork {
                Console.err("audit: witness refused: \(error.reason)")
                throw ExitCode(2)
            }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the latest signed checkpoint (signing one for the current size if needed)."
        )

        @OptionGroup var location: AuditLocation

        @Flag(help: "Also print the verifier key, for pumps and witnesses to pin.")
        var showVerifierKey = false

        func run() async throws {
            try await reportingAuditErrors {
                let log = try await self.location.openLog()
                let signed = try await log.checkpoint()
                FileHandle.standardOutput.write(Data(signed.note.utf8))
                if self.showVerifierKey { Console.out("verifier key: \(log.signer.verifier.verifierKey)") }
            }
        }
    }
}

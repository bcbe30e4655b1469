import ArgumentParser
import AuditLog
import AuditPostgres
import AuditWitness
import Foundation

extension AuditCommand {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every leaf, node and root; check every checkpoint; update the witness.",
            discussion: """
                Exits 0 when the whole log verifies; otherwise prints the first bad entry index or \
                checkpoint and exits 1 (2 when the witness refuses a rollback or fork, 3 on I/O errors, \
                4 when --witness-key is given and the latest checkpoint has no valid cosignature by that \
                witness younger than --witness-max-age). The log is a state directory's (--state-dir) or \
                a PostgreSQL database's (--database, with --verifier-key: a database holds no key).
                """
        )

        @Option(name: .customLong("state-dir"), help: "The state directory (its audit log, checkpoint-key.pem).")
        var stateDirectory: String?

        @Option(
            help: ArgumentHelp(
                "A PostgreSQL audit database instead of --state-dir; needs --verifier-key.",
                valueName: "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            )
        )
        var database: String?

        @Option(help: "The log's checkpoint origin and key name.")
        var origin: String = AuditLog.Configuration().origin

        @Option(help: "Witness state file: remembers the last checkpoint and refuses rollbacks and forks.")
        var witness: String?

        @Option(
            name: .customLong("verifier-key"),
            help: "The trusted verifier key (<name>+<id>+<key>); default: derived from the state dir's signing key."
        )
        var verifierKey: String?

        @Option(
            name: .customLong("witness-key"),
            help:
                "Require a fresh cosignature by this witness (its vkey, or a file holding it) on the latest checkpoint."
        )
        var witnessKey: String?

        @Option(name: .customLong("witness-max-age"), help: "The oldest cosignature --witness-key accepts.")
        var witnessMaxAge: String = "1h"

        func validate() throws {
            guard (self.stateDirectory == nil) != (self.database == nil) else {
                throw ValidationError("give exactly one of --state-dir and --database (the log to verify)")
            }
            if self.database != nil && self.verifierKey == nil {
                throw ValidationError(
                    "--database needs --verifier-key: a database holds no key (print it with audit checkpoint --show-verifier-key on the gateway's state directory)"
                )
            }
        }

        func run() async throws {
            let requiredWitness = try self.requiredWitness()
            try await reportingAuditErrors {
                let verifier: NoteVerifier
                if let verifierKey {
                    verifier = try NoteVerifier(verifierKey: verifierKey)
                } else {
                    verifier = try AuditStateDirectory(path: self.stateDirectory ?? "")
                        .signer(name: self.origin, create: false).verifier
                }
                // Read-only: a database is neither created nor migrated by a verification.
                let store: any AuditStore =
                    if let database {
                        try await PostgresAuditStore(url: database, migrate: false)
                    } else {
                        try await AuditStateDirectory(path: self.stateDirectory ?? "").openStore(create: false)
                    }
                let terminal = Console.stderrIsTerminal
                let report = try await LogVerifier.verify(
                    store: store,
                    verifier: verifier,
                    origin: self.origin
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
                if let requiredWitness {
                    try self.checkCosignature(latest: report.latest, witness: requiredWitness)
                }
            }
        }

        private func requiredWitness() throws -> (CosignatureVerifier, UInt64)? {
            guard let witnessKey else { return nil }
            let text =
                FileManager.default.fileExists(atPath: witnessKey)
                ? (try? String(contentsOfFile: witnessKey, encoding: .utf8)) ?? "" : witnessKey
            let maxAge = try durationOption("--witness-max-age", self.witnessMaxAge)
            do {
                return (try CosignatureVerifier(verifierKey: text), UInt64(maxAge.components.seconds))
            } catch let error as WitnessError {
                throw ValidationError("--witness-key: \(error.reason)")
            }
        }

        /// The latest checkpoint must carry a valid cosignature by the required witness, in its own
        /// note or in the state directory's cosignature store, no older than the allowed age.
        private func checkCosignature(latest: SignedCheckpoint?, witness: (CosignatureVerifier, UInt64)) throws {
            do {
                guard let latest else {
                    throw WitnessError(.noCosignature, "the log has no signed checkpoint for a witness to cosign")
                }
                // A state directory keeps the cosignatures the gateway collected; on a database,
                // only those carried in the checkpoint's own note count (until the database keeps them).
                let stored = try self.stateDirectory.map {
                    try CosignatureStore(stateDirectory: $0).lines(for: latest.checkpoint.body)
                }
                let lines = CosignatureCheck.signatureLines(of: latest.note) + (stored ?? [])
                let time = try CosignatureCheck.check(
                    latest,
                    lines: lines,
                    witness: witness.0,
                    now: UInt64(Date().timeIntervalSince1970),
                    maxAgeSeconds: witness.1
                )
                Console.out(
                    "witness: checkpoint \(latest.checkpoint.size) cosigned by \(witness.0.name) at \(isoTime(Int64(time) * 1000))"
                )
            } catch let error as WitnessError {
                Console.err("audit: witness \(witness.0.name): \(error.reason) [\(error.code)]")
                throw ExitCode(4)
            }
        }

        private func updateWitness(
            path: String,
            store: any AuditStore,
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

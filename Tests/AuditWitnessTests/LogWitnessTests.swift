import AuditLog
import AuditWitness
import Foundation
import Testing

/// The witness against real logs in state directories: it cosigns a log that only grows, and
/// catches one that rolls back or forks, for good.
@Suite("LogWitness: cosign extensions, refuse rollbacks and forks")
struct LogWitnessTests {
    let now: UInt64 = 1_800_000_000

    @Test("cosigns a growing log, checking consistency from the last cosigned size each time")
    func growingLog() async throws {
        let directory = WitnessTestSupport.temporaryDirectory()
        let state = "\(directory)/log"
        let statePath = "\(directory)/witness.json"
        let cosigner = try WitnessTestSupport.cosigner(directory)
        try await WitnessTestSupport.grow(state, to: 3)
        let proofs = ProofLog()
        let direct = WitnessLogClient.directory(state)
        let client = WitnessLogClient(
            latestCheckpoint: direct.latestCheckpoint,
            consistencyProof: { from, to in
                await proofs.record(from, to)
                return try await direct.consistencyProof(from, to)
            },
            submit: direct.submit
        )
        let witness = try WitnessTestSupport.witness(state, statePath: statePath, cosigner: cosigner, client: client)

        for (size, at) in [(3, 0), (7, 10), (7, 20), (12, 30)] {
            try await WitnessTestSupport.grow(state, from: Int(try await Self.size(state)), to: size)
            let outcome = await witness.poll(now: self.now + UInt64(at))
            guard case .cosigned(let checkpoint, let line) = outcome else {
                Issue.record("size \(size): \(outcome)")
                return
            }
            #expect(checkpoint.size == UInt64(size))
            #expect(try cosigner.verifier.timestamp(ofLine: line, body: checkpoint.body) == self.now + UInt64(at))
        }
        // A proof was asked only when the log grew, always from the size cosigned before.
        #expect(await proofs.asked == [[3, 7], [7, 12]])
        let record = try #require(try WitnessStateFile.load(path: statePath).logs[WitnessTestSupport.origin])
        #expect(record.size == 12 && record.cosignedAt == self.now + 30 && record.refusal == nil)
        // The gateway side has the newest cosignature, on the latest checkpoint.
        let stored = try CosignatureStore(stateDirectory: state).entries()
        #expect(stored.map(\.size) == [12])
        let mode = try FileManager.default.attributesOfItem(atPath: statePath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("a smaller tree than the one cosigned is a rollback: refused, recorded, nothing cosigned ever after")
    func rollback() async throws {
        let directory = WitnessTestSupport.temporaryDirectory()
        let state = "\(directory)/log"
        let statePath = "\(directory)/witness.json"
        let early = try await WitnessTestSupport.grow(state, to: 4)
        try await WitnessTestSupport.grow(state, from: 4, to: 9)
        let witness = try WitnessTestSupport.witness(
            state,
            statePath: statePath,
            cosigner: try WitnessTestSupport.cosigner(directory)
        )
        guard case .cosigned = await witness.poll(now: self.now) else {
            Issue.record("the first poll should cosign")
            return
        }
        // The log now shows its older, smaller checkpoint (validly signed).
        let rolledBack = try Self.serving(early.note, from: state)
        let caught = try WitnessTestSupport.witness(
            state,
            statePath: statePath,
            cosigner: witness.cosigner,
            client: rolledBack.client
        )
        let outcome = await caught.poll(now: self.now + 10)
        guard case .halted(let error) = outcome else {
            Issue.record("expected a halt, got \(outcome)")
            return
        }
        #expect(error.code == .rollback)
        let record = try #require(try WitnessStateFile.load(path: statePath).logs[WitnessTestSupport.origin])
        #expect(record.refusal?.code == "rollback" && record.refusal?.evidence == early.note && record.size == 9)
        // Even the honest log's current checkpoint is not cosigned again until an operator resets.
        let again = await witness.poll(now: self.now + 20)
        guard case .refused(let halted) = again else {
            Issue.record("expected a refusal, got \(again)")
            return
        }
        #expect(halted.code == .halted)
        #expect(await rolledBack.submissions.count == 0)
    }

    @Test("the same size with another root is a fork: refused and nothing is cosigned after")
    func forkSameSize() async throws {
        let directory = WitnessTestSupport.temporaryDirectory()
        let state = "\(directory)/log"
        let statePath = "\(directory)/witness.json"
        try await WitnessTestSupport.grow(state, to: 6)
        let forked = try WitnessTestSupport.sameKey(as: state)
        let other = try await WitnessTestSupport.grow(forked, to: 6, tag: "forged")
        let cosigner = try WitnessTestSupport.cosigner(directory)
        let witness = try WitnessTestSupport.witness(state, statePath: statePath, cosigner: cosigner)
        guard case .cosigned = await witness.poll(now: self.now) else {
            Issue.record("the first poll should cosign")
            return
        }
        let forkWitness = try WitnessTestSupport.witness(forked, statePath: statePath, cosigner: cosigner)
        let outcome = await forkWitness.poll(now: self.now + 10)
        guard case .halted(let error) = outcome else {
            Issue.record("expected a halt, got \(outcome)")
            return
        }
        #expect(error.code == .fork)
        #expect(
            try WitnessStateFile.load(path: statePath).logs[WitnessTestSupport.origin]?.refusal?.evidence == other.note
        )
        // Nothing is cosigned after: not the fork, not the honest log grown further.
        try await WitnessTestSupport.grow(state, from: 6, to: 8)
        for poller in [witness, forkWitness] {
            guard case .refused(let refusal) = await poller.poll(now: self.now + 20) else {
                Issue.record("a halted witness cosigned")
                return
            }
            #expect(refusal.code == .halted)
        }
        #expect(try CosignatureStore(stateDirectory: forked).entries().isEmpty)
        #expect(try CosignatureStore(stateDirectory: state).entries().map(\.size) == [6])
    }

    @Test("a larger tree whose consistency proof fails (a forked history) is a fork")
    func forkLarger() async throws {
        let directory = WitnessTestSupport.temporaryDirectory()
        let state = "\(directory)/log"
        let statePath = "\(directory)/witness.json"
        try await WitnessTestSupport.grow(state, to: 5)
        let forked = try WitnessTestSupport.sameKey(as: state)
        try await WitnessTestSupport.grow(forked, to: 9, tag: "forged")
        let cosigner = try WitnessTestSupport.cosigner(directory)
        guard
            case .cosigned = try await WitnessTestSupport.witness(state, statePath: statePath, cosigner: cosigner)
                .poll(now: self.now)
        else {
            Issue.record("the first poll should cosign")
            return
        }
        let outcome = try await WitnessTestSupport.witness(forked, statePath: statePath, cosigner: cosigner)
            .poll(now: self.now + 10)
        guard case .halted(let error) = outcome else {
            Issue.record("expected a halt, got \(outcome)")
            return
        }
        #expect(error.code == .fork)
        #expect(error.reason.contains("not an extension of the cosigned size 5"), "\(error.reason)")
    }

    @Test("a checkpoint whose log signature was tampered with is refused, not cosigned, and not a halt")
    func tamperedSignature() async throws {
        let directory = WitnessTestSupport.temporaryDirectory()
        let state = "\(directory)/log"
        let statePath = "\(directory)/witness.json"
        let signed = try await WitnessTestSupport.grow(state, to: 3)
        // Flip one character of the root line: the signature no longer covers the text.
        var lines = signed.note.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[2] = (lines[2].first == "A" ? "B" : "A") + lines[2].dropFirst()
        let tampered = try Self.serving(lines.joined(separator: "\n"), from: state)
        let witness = try WitnessTestSupport.witness(
            state,
            statePath: statePath,
            cosigner: try WitnessTestSupport.cosigner(directory),
            client: tampered.client
        )
        let outcome = await witness.poll(now: self.now)
        guard case .refused(let error) = outcome else {
            Issue.record("expected a refusal, got \(outcome)")
            return
        }
        #expect(error.code == .badLogSignature)
        #expect(await tampered.submissions.count == 0)
        #expect(try WitnessStateFile.load(path: statePath).logs.isEmpty)
        // Not a halt: the honest checkpoint is cosigned at the next poll.
        let honest = try WitnessTestSupport.witness(state, statePath: statePath, cosigner: witness.cosigner)
        guard case .cosigned = await honest.poll(now: self.now + 10) else {
            Issue.record("the honest checkpoint should be cosigned")
            return
        }
    }

    // MARK: Helpers

    static func size(_ state: String) async throws -> UInt64 {
        try await AuditStateDirectory(path: state).openStore(create: false).size()
    }

    /// A client serving a fixed note (proofs from the real log), recording what is submitted.
    static func serving(
        _ note: String,
        from state: String
    ) throws -> (client: WitnessLogClient, submissions: Submissions) {
        let direct = WitnessLogClient.directory(state)
        let submissions = Submissions()
        let client = WitnessLogClient(
            latestCheckpoint: { note },
            consistencyProof: direct.consistencyProof,
            submit: { await submissions.add($0) }
        )
        return (client, submissions)
    }
}

actor Submissions {
    private(set) var all: [WitnessLogClient.Submission] = []
    var count: Int { self.all.count }
    func add(_ submission: WitnessLogClient.Submission) { self.all.append(submission) }
}

actor ProofLog {
    private(set) var asked: [[UInt64]] = []
    func record(_ from: UInt64, _ to: UInt64) { self.asked.append([from, to]) }
}

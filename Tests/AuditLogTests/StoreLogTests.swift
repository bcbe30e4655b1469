import AuditLog
import Foundation
import Testing

@Suite("SQLite store and group commit")
struct SQLiteLogTests {
    @Test("concurrent appends get distinct, contiguous, durable indices and the log verifies after reopen")
    func concurrentAppends() async throws {
        let directory = TestSupport.temporaryDirectory()
        let configuration = AuditLog.Configuration(origin: TestSupport.origin, checkpointInterval: 50)
        var root: [UInt8] = []
        do {
            let log = try await AuditLog.open(stateDirectory: directory, configuration: configuration)
            let indices = try await withThrowingTaskGroup(of: UInt64.self) { group in
                for number in 0..<200 {
                    group.addTask { try await log.append(TestSupport.event(number)).index }
                }
                return try await group.reduce(into: [UInt64]()) { $0.append($1) }
            }
            #expect(indices.sorted() == Array(0..<200))
            _ = try await log.checkpoint()
            root = await log.rootHash
        }
        // Reopen from disk: same size, same root; proofs from SQLite verify against the checkpoint.
        let log = try await AuditLog.open(stateDirectory: directory, configuration: configuration)
        #expect(await log.size == 200)
        #expect(await log.rootHash == root)
        let latest = try #require(try await log.store.latestCheckpoint())
        let checkpoint = try log.signer.verifier.verifyCheckpoint(note: latest.note, context: "latest")
        #expect(checkpoint.size == 200 && checkpoint.rootHash == root)
        for index: UInt64 in [0, 1, 99, 127, 128, 199] {
            let proof = try await log.inclusionProof(index: index)
            try MerkleProof.verifyInclusion(
                index: index,
                size: 200,
                leafHash: proof.leafHash,
                proof: proof.hashes,
                root: root
            )
        }
        let report = try await LogVerifier.verify(
            store: log.store,
            verifier: log.signer.verifier,
            origin: TestSupport.origin
        )
        #expect(report.size == 200)
        #expect(report.checkpointCount >= 1)
        let entry = try await log.entry(at: 7)
        #expect(entry.event == TestSupport.event(Int(entry.event.timeMilliseconds - 1_763_700_000_000)))
    }

    @Test(
        "a second writer on the same database gets each of its appends in while the first appends without pause"
    )
    func besideANonStopAppender() async throws {
        let directory = TestSupport.temporaryDirectory()
        let configuration = AuditLog.Configuration(origin: TestSupport.origin)
        let busy = try await AuditLog.open(stateDirectory: directory, configuration: configuration)
        // Its own store and SQLite connection, as a command beside the gateway has.
        let command = try await AuditLog.openExisting(stateDirectory: directory, configuration: configuration)
        let appender = Task {
            var count = 0
            while !Task.isCancelled {
                _ = try await busy.append(TestSupport.event(count))
                count += 1
            }
            return count
        }
        for number in 0..<30 {
            _ = try await command.append(TestSupport.event(1_000_000 + number, pump: "PUMP-2"))
        }
        appender.cancel()
        let busyCount = try await appender.value
        #expect(busyCount > 0)
        let reopened = try await AuditLog.open(stateDirectory: directory, configuration: configuration)
        #expect(await reopened.size == UInt64(busyCount + 30))
        let report = try await LogVerifier.verify(
            store: reopened.store,
            verifier: reopened.signer.verifier,
            origin: TestSupport.origin
        )
        #expect(report.size == UInt64(busyCount + 30))
    }

    @Test("a state directory's key file is created with mode 0600 and refused when readable by others")
    func keyFile() async throws {
        let directory = TestSupport.temporaryDirectory()
        _ = try await AuditLog.open(stateDirectory: directory)
        let state = AuditStateDirectory(path: directory)
        let mode = try FileManager.default.attributesOfItem(atPath: state.signingKeyPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let first = try state.signer(name: TestSupport.origin, create: false)
        #expect(try state.signer(name: TestSupport.origin, create: true).verifier == first.verifier)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: state.signingKeyPath)
        #expect(throws: AuditLogError(.keyFile, "")) { try state.signer(name: TestSupport.origin, create: false) }
    }

    @Test("a second writer on the same database is detected and the first writer catches up")
    func twoWriters() async throws {
        let directory = TestSupport.temporaryDirectory()
        let first = try await AuditLog.open(stateDirectory: directory)
        let second = try await AuditLog.open(stateDirectory: directory)
        _ = try await first.append(TestSupport.event(1))
        let receipt = try await second.append(TestSupport.event(2))
        #expect(receipt.index == 1)
        #expect(try await first.append(TestSupport.event(3)).index == 2)
        let report = try await LogVerifier.verify(
            store: first.store,
            verifier: first.signer.verifier,
            origin: TestSupport.origin
        )
        #expect(report.size == 3)
    }
}

import AuditLog
import Foundation
import Testing

/// The log over each real store (SQLite, PostgreSQL): the same tests, one backend argument.
@Suite("Audit stores and group commit")
struct StoreLogTests {
    @Test(
        "concurrent appends get distinct, contiguous, durable indices and the log verifies after reopen",
        arguments: Backend.allCases
    )
    func concurrentAppends(backend: Backend) async throws {
        let database = try backend.makeDatabase()
        let configuration = AuditLog.Configuration(origin: TestSupport.origin, checkpointInterval: 50)
        var root: [UInt8] = []
        do {
            let log = try await database.openLog(configuration: configuration)
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
        // Reopen from disk: same size, same root; proofs from the store verify against the checkpoint.
        let log = try await database.openLog(configuration: configuration)
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
        "a second writer on the same database gets each of its appends in while the first appends without pause",
        arguments: Backend.allCases
    )
    func besideANonStopAppender(backend: Backend) async throws {
        let database = try backend.makeDatabase()
        let configuration = AuditLog.Configuration(origin: TestSupport.origin)
        let busy = try await database.openLog(configuration: configuration)
        // Its own store and connection, as a command beside the gateway (or another node) has.
        let command = try await database.openLog(configuration: configuration)
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
        let reopened = try await database.openLog(configuration: configuration)
        #expect(await reopened.size == UInt64(busyCount + 30))
        let report = try await LogVerifier.verify(
            store: reopened.store,
            verifier: reopened.signer.verifier,
            origin: TestSupport.origin
        )
        #expect(report.size == UInt64(busyCount + 30))
    }

    @Test(
        "a batch for a stale size is refused as concurrentWriter and nothing of it is kept",
        arguments: Backend.allCases
    )
    func staleBatch(backend: Backend) async throws {
        let database = try backend.makeDatabase()
        let log = try await database.openLog()
        for number in 0..<3 { _ = try await log.append(TestSupport.event(number)) }
        let store = try await database.openStore()
        let body = AuditEntry(index: 1, event: TestSupport.event(9)).encoded()
        let stale = AuditBatch(
            firstIndex: 1,
            entries: [StoredEntry(index: 1, body: body, leafHash: RFC9162.leafHash(body))],
            nodes: [],
            checkpoint: nil
        )
        let error = await #expect(throws: AuditLogError(.concurrentWriter, "")) { try await store.append(stale) }
        #expect(
            error?.reason.contains("holds 3 entries, this writer expected 1") == true,
            "\(String(describing: error))"
        )
        #expect(try await store.size() == 3)
        #expect(try await store.entries(in: 1..<2).first?.body != body)
    }

    @Test(
        "a cancelled caller's append still completes: a group commit serves other callers too",
        arguments: Backend.allCases
    )
    func cancelledCaller(backend: Backend) async throws {
        let log = try await backend.makeDatabase().openLog()
        for number in 0..<20 {
            let caller = Task { try await log.append(TestSupport.event(number)).index }
            caller.cancel()  // before or during its commit
            #expect(try await caller.value == UInt64(number))
        }
        #expect(await log.size == 20)
        _ = try await log.append(TestSupport.event(20))  // the log has not stopped
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

    @Test(
        "a second writer on the same database is detected and the first writer catches up",
        arguments: Backend.allCases
    )
    func twoWriters(backend: Backend) async throws {
        let database = try backend.makeDatabase()
        let first = try await database.openLog()
        let second = try await database.openLog()
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

import AuditLog
import Testing

@Suite("Group commit")
struct GroupCommitTests {
    @Test("64 concurrent callers share commits, and each returns only after its own entry is stored")
    func batching() async throws {
        let store = InMemoryAuditStore(commitLatency: .milliseconds(5))
        let log = try await AuditLog(store: store, signer: try CheckpointSigner.generate(name: TestSupport.origin))
        let indices = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for number in 0..<64 {
                group.addTask {
                    let receipt = try await log.append(TestSupport.event(number))
                    // Durable before return: the store already holds this entry.
                    #expect(await store.size() > receipt.index)
                    return receipt.index
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0.append($1) }
        }
        #expect(indices.sorted() == Array(0..<64))
        let batches = await store.batches
        #expect(batches < 16, "64 appends took \(batches) commits")
    }

    @Test("a batch is capped at maximumBatch entries")
    func cap() async throws {
        let store = InMemoryAuditStore(commitLatency: .milliseconds(2))
        let log = try await AuditLog(
            store: store,
            signer: try CheckpointSigner.generate(name: TestSupport.origin),
            configuration: .init(origin: TestSupport.origin, maximumBatch: 4)
        )
        try await withThrowingDiscardingTaskGroup { group in
            for number in 0..<32 { group.addTask { _ = try await log.append(TestSupport.event(number)) } }
        }
        #expect(await store.batches >= 8)
        #expect(await store.size() == 32)
    }

    @Test(
        "64 concurrent callers share the store's commits, each returning once its entry is stored",
        arguments: Backend.allCases
    )
    func groupCommit(backend: Backend) async throws {
        let database = try backend.makeDatabase()
        let log = try await database.openLog()
        let store = log.store
        let indices = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for number in 0..<64 {
                group.addTask {
                    let receipt = try await log.append(TestSupport.event(number))
                    // Durable before return: the store already holds this entry.
                    #expect(try await store.size() > receipt.index)
                    return receipt.index
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0.append($1) }
        }
        #expect(indices.sorted() == Array(0..<64))
        let commits = await log.commitCount
        #expect(commits < 32, "64 appends took \(commits) commits")
        let other = try await database.openStore()
        #expect(try await other.size() == 64)
    }
}

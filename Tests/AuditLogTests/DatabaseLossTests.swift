import AuditLog
import Foundation
import Testing

/// What the log does when its database stops answering in the middle of a commit
/// (`.databaseUnavailable`): the commit's outcome is unknown until the database answers again.
/// A SQLite store behind a switch stands in for the connection, so each outcome is certain.
@Suite("Audit log: a commit cut off with the database")
struct DatabaseLossTests {
    /// A store whose calls fail like a lost connection, as `fault` says.
    actor CutStore: AuditStore {
        enum Fault: Sendable {
            case none
            /// The next append is committed, then its answer is lost.
            case commitThenCut
            /// The next `calls` calls of any kind fail before reaching the store.
            case cut(calls: Int)
            /// Every call fails.
            case down
        }

        let inner: SQLiteAuditStore
        var fault: Fault = .none

        init(path: String) throws { self.inner = try SQLiteAuditStore(path: path) }

        func set(_ fault: Fault) { self.fault = fault }

        private func gate() throws {
            switch self.fault {
            case .none, .commitThenCut:
                return
            case .cut(let calls):
                guard calls > 0 else { return }
                self.fault = calls == 1 ? .none : .cut(calls: calls - 1)
                throw Self.lost
            case .down:
                throw Self.lost
            }
        }

        static let lost = AuditLogError(.databaseUnavailable, "the connection was closed (test)")

        func size() async throws -> UInt64 {
            try self.gate()
            return try await self.inner.size()
        }

        func append(_ batch: AuditBatch) async throws {
            try self.gate()
            try await self.inner.append(batch)
            if case .commitThenCut = self.fault {
                self.fault = .none
                throw Self.lost
            }
        }

        func appendAtTip<Result: Sendable>(
            _ build: @Sendable (AuditTip) throws -> (AuditBatch, Result)
        ) async throws -> Result {
            try self.gate()
            return try await self.inner.appendAtTip(build)
        }

        func storeCheckpoint(size: UInt64, note: String) async throws {
            try self.gate()
            try await self.inner.storeCheckpoint(size: size, note: note)
        }

        func hashes(of nodes: [MerkleNodeID]) async throws -> [[UInt8]] {
            try self.gate()
            return try await self.inner.hashes(of: nodes)
        }

        func entries(in range: Range<UInt64>) async throws -> [StoredEntry] {
            try self.gate()
            return try await self.inner.entries(in: range)
        }

        func nodes(after key: Int64, limit: Int) async throws -> [StoredNode] {
            try self.gate()
            return try await self.inner.nodes(after: key, limit: limit)
        }

        func checkpoints() async throws -> [StoredCheckpoint] {
            try self.gate()
            return try await self.inner.checkpoints()
        }

        func latestCheckpoint() async throws -> StoredCheckpoint? {
            try self.gate()
            return try await self.inner.latestCheckpoint()
        }
    }

    func log(_ store: CutStore, limit: Duration = .seconds(30)) async throws -> AuditLog {
        try await AuditLog(
            store: store,
            signer: try CheckpointSigner.generate(name: TestSupport.origin),
            configuration: .init(origin: TestSupport.origin, unknownOutcomeLimit: limit)
        )
    }

    func verifies(_ store: CutStore, _ log: AuditLog) async throws -> UInt64 {
        try await LogVerifier.verify(store: store.inner, verifier: log.signer.verifier, origin: TestSupport.origin).size
    }

    @Test("a commit whose answer was lost is found in the store once it answers: it stands, once, with its receipt")
    func committedThenCut() async throws {
        let store = try CutStore(path: TestSupport.temporaryDirectory() + "/audit.sqlite")
        let log = try await self.log(store)
        await store.set(.commitThenCut)
        let first = try await log.append(TestSupport.event(1))
        #expect(first.index == 0)
        let second = try await log.append(TestSupport.event(2))
        #expect(second.index == 1)
        #expect(try await store.inner.size() == 2, "the cut-off commit was written twice")
        #expect(await log.unavailableReason == nil)
        #expect(try await self.verifies(store, log) == 2)
    }

    @Test("a commit cut off before it reached the store is written at the tip once the store answers, once")
    func cutBeforeCommit() async throws {
        let store = try CutStore(path: TestSupport.temporaryDirectory() + "/audit.sqlite")
        let log = try await self.log(store)
        _ = try await log.append(TestSupport.event(1))
        // The append and the first two calls made to settle it fail.
        await store.set(.cut(calls: 3))
        let receipt = try await log.append(TestSupport.event(2))
        #expect(receipt.index == 1)
        #expect(try await store.inner.size() == 2)
        #expect(try await self.verifies(store, log) == 2)
    }

    @Test(
        "while a cut-off commit waits, other appends are refused at once with databaseUnavailable; past the limit the log stops"
    )
    func downPastTheLimit() async throws {
        let store = try CutStore(path: TestSupport.temporaryDirectory() + "/audit.sqlite")
        let log = try await self.log(store, limit: .milliseconds(800))
        await store.set(.down)
        let waiting = Task { try await log.append(TestSupport.event(1)) }
        var problem: String?
        for _ in 0..<200 where problem == nil {
            problem = await log.databaseProblem
            if problem == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(problem?.contains("the connection was closed (test)") == true)
        let refused = await #expect(throws: AuditLogError(.databaseUnavailable, "")) {
            try await log.append(TestSupport.event(2))
        }
        #expect(refused?.reason.hasPrefix("nothing appended") == true, "\(String(describing: refused))")
        #expect(await log.unavailableReason?.hasPrefix("database unavailable: ") == true)

        let stopped = await #expect(throws: AuditLogError(.storageFailure, "")) { try await waiting.value }
        #expect(stopped?.reason.contains("was not settled within") == true, "\(String(describing: stopped))")
        #expect(await log.stoppedReason?.contains("was not settled within") == true)
        await #expect(throws: AuditLogError(.logUnavailable, "")) { try await log.append(TestSupport.event(3)) }
        #expect(try await store.inner.size() == 0)
    }
}

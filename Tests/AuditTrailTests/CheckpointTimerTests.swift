import AuditLog
import AuditTrail
import Logging
import ServiceLifecycle
import Testing

@Suite("CheckpointTimer: a quiet log is covered within one interval, and at shutdown")
struct CheckpointTimerTests {
    static let logger = Logger(label: "checkpoint-timer-test")

    /// The log as `medtunnel audit verify` sees it: every checkpoint checked against the entries.
    static func verified(_ test: AuditTrailTestLog) async throws -> LogVerifier.Report {
        try await LogVerifier.verify(
            store: test.log.store,
            verifier: test.log.signer.verifier,
            origin: test.log.configuration.origin
        )
    }

    @Test("a tick signs only when entries were added since the last checkpoint")
    func tick() async throws {
        let test = try await AuditTrailTestLog()
        let timer = CheckpointTimer(log: test.log, interval: .seconds(3_600), logger: Self.logger)
        #expect(await timer.tick() == nil, "an empty log gets no checkpoint")
        try await test.append(.configChanged)
        try await test.append(.configChanged)
        #expect(await timer.tick()?.checkpoint.size == 2)
        #expect(await timer.tick() == nil, "a quiet log is not signed again")
        let report = try await Self.verified(test)
        #expect(report.checkpointCount == 1 && report.latest?.checkpoint.size == 2)
    }

    @Test("running with a short interval, a quiet log gets a checkpoint covering it")
    func interval() async throws {
        let test = try await AuditTrailTestLog()
        try await test.append(.configChanged)
        let timer = CheckpointTimer(log: test.log, interval: .milliseconds(20), logger: Self.logger)
        let group = ServiceGroup(services: [timer], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Wait for the timer, not for a guessed time: poll the store until it has the checkpoint.
            var covered: UInt64 = 0
            for _ in 0..<500 where covered < 1 {
                try await Task.sleep(for: .milliseconds(10))
                covered = try await test.log.store.latestCheckpoint()?.size ?? 0
            }
            #expect(covered == 1)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let report = try await Self.verified(test)
        #expect(report.latest?.checkpoint.size == 1 && report.size == 1)
    }

    @Test("graceful shutdown signs the entries appended since the last tick")
    func shutdown() async throws {
        let test = try await AuditTrailTestLog()
        let timer = CheckpointTimer(log: test.log, interval: .seconds(3_600), logger: Self.logger)
        let group = ServiceGroup(services: [timer], logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for _ in 0..<3 { try await test.append(.configChanged) }
            #expect(try await test.log.store.latestCheckpoint() == nil, "no tick within the hour")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let report = try await Self.verified(test)
        #expect(report.checkpointCount == 1 && report.latest?.checkpoint.size == 3)
    }
}

import ArgumentParser
import AuditLog
import Foundation
import SQLiteStore

// Hidden commands for tools/bench: each prints one JSON line with its measurement.

extension AuditCommand {
    struct BenchAppend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-append",
            abstract: "(benchmark) Durable appends per second with concurrent callers.",
            shouldDisplay: false
        )

        @OptionGroup var location: AuditLocation
        @Option var callers: Int = 1
        @Option var count: Int = 1000
        /// Append to this PostgreSQL database instead (the key still comes from --state-dir).
        @Option var database: String?

        func run() async throws {
            try await reportingAuditErrors {
                let log = try await self.location.openLog(database: self.database)
                let event = try benchEvent()
                let perCaller = max(1, self.count / self.callers)
                let start = ContinuousClock.now
                try await withThrowingDiscardingTaskGroup { group in
                    for _ in 0..<self.callers {
                        group.addTask { for _ in 0..<perCaller { _ = try await log.append(event) } }
                    }
                }
                let seconds = seconds(since: start)
                let total = perCaller * self.callers
                let commits = await log.commitCount
                Console.out(
                    try Console.json([
                        "bench": "append", "store": self.database == nil ? "sqlite" : "postgres",
                        "callers": self.callers, "appends": total, "seconds": seconds,
                        "perSecond": Double(total) / seconds, "commits": commits,
                        "commitsPerSecond": Double(commits) / seconds,
                    ])
                )
            }
        }
    }

    struct BenchSQLite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-sqlite",
            abstract: "(benchmark) Bare SQLite insert+commit per row, WAL, synchronous=FULL.",
            shouldDisplay: false
        )

        @Option var path: String
        @Option var count: Int = 1000

        func run() async throws {
            let connection = try SQLiteConnection(path: self.path)
            try connection.apply(.walFull)
            try connection.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            let insert = try connection.prepare("INSERT INTO t(body) VALUES (?)")
            let body = try AuditEntry(index: 0, event: benchEvent()).encoded()
            let start = ContinuousClock.now
            for _ in 0..<self.count {
                try connection.writeTransaction {
                    try insert.bind(body, at: 1)
                    try insert.run()
                }
            }
            let seconds = seconds(since: start)
            Console.out(
                try Console.json([
                    "bench": "sqlite", "commits": self.count, "seconds": seconds,
                    "perSecond": Double(self.count) / seconds,
                ])
            )
        }
    }

    struct BulkAppend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bulk-append",
            abstract: "(benchmark) Fill a log with many entries through large group commits.",
            shouldDisplay: false
        )

        @OptionGroup var location: AuditLocation
        @Option var count: Int = 1_000_000

        func run() async throws {
            try await reportingAuditErrors {
                let log = try await self.location.openLog(checkpointInterval: 65_536, maximumBatch: 8192)
                let event = try benchEvent()
                let callers = max(1, min(8192, self.count))
                let start = ContinuousClock.now
                try await withThrowingDiscardingTaskGroup { group in
                    for caller in 0..<callers {
                        let share = self.count / callers + (caller < self.count % callers ? 1 : 0)
                        group.addTask { for _ in 0..<share { _ = try await log.append(event) } }
                    }
                }
                _ = try await log.checkpoint()
                let size = await log.size
                Console.out(try Console.json(["bench": "bulk", "size": size, "seconds": seconds(since: start)]))
            }
        }
    }

    struct BenchProofs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench-proofs",
            abstract: "(benchmark) Median inclusion and consistency proof time (build + verify).",
            shouldDisplay: false
        )

        @OptionGroup var location: AuditLocation
        @Option var samples: Int = 200

        func run() async throws {
            try await reportingAuditErrors {
                let store = try await self.location.directory.openStore(create: false)
                let size = try await store.size()
                guard size > 1 else { throw AuditLogError(.invalidArgument, "the log needs at least 2 entries") }
                var generator = SystemRandomNumberGenerator()
                var inclusion: [Double] = []
                var consistency: [Double] = []
                for _ in 0..<self.samples {
                    let index = UInt64.random(in: 0..<size, using: &generator)
                    var start = ContinuousClock.now
                    let proof = try await store.inclusionProof(index: index, treeSize: size)
                    try MerkleProof.verifyInclusion(
                        index: index,
                        size: size,
                        leafHash: proof.leafHash,
                        proof: proof.hashes,
                        root: proof.rootHash
                    )
                    inclusion.append(seconds(since: start) * 1e6)
                    let old = UInt64.random(in: 1..<size, using: &generator)
                    start = ContinuousClock.now
                    let step = try await store.consistencyProof(from: old, to: size)
                    try MerkleProof.verifyConsistency(
                        oldSize: old,
                        newSize: size,
                        oldRoot: step.oldRoot,
                        newRoot: step.newRoot,
                        proof: step.hashes
                    )
                    consistency.append(seconds(since: start) * 1e6)
                }
                Console.out(
                    try Console.json([
                        "bench": "proofs", "size": size, "inclusionMedianMicroseconds": median(inclusion),
                        "consistencyMedianMicroseconds": median(consistency),
                    ])
                )
            }
        }
    }
}

private func benchEvent() throws -> AuditEvent {
    try AuditEvent(
        timeMilliseconds: 1_763_700_000_000,
        actor: try AuditActor(id: "clinician-42", role: "clinician"),
        kind: .changeRequested,
        pumpSerial: "PUMP-000123",
        phoneID: "PHONE-77",
        payload: Array(#"{"change":"temp_basal","rate_mU_per_h":800,"duration_min":30}"#.utf8)
    )
}

private func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

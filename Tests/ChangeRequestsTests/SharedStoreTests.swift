import AuditLog
import Foundation
import SafetyPolicy
import Testing
import TherapyModel

@testable import ChangeRequests

/// The change store shared by several gateway nodes on one PostgreSQL database: each node has
/// its own `ChangeRequestStore` and `AuditLog` (its own connections), as two processes would.
@Suite("change store shared by several nodes (PostgreSQL)")
struct SharedStoreTests {
    let now = StoreFixture.now
    let patient = ChangeActor(StoreFixture.patient)

    @Test("a send and a cancel racing on two nodes: exactly one of them happens, and only it is in the log")
    func sendRacesCancel() async throws {
        let nodeA = try await StoreFixture.make(.postgres)
        let nodeB = try await nodeA.restarted()
        var requests: [ChangeRequest] = []
        for pump in 0..<12 {
            requests.append(try await nodeA.submit(serial: String(format: "PUMP-%04d", 100 + pump)))
        }
        let outcomes = try await withThrowingTaskGroup(of: (ChangeRequestID, String, ChangeRequestError?).self) {
            group in
            for request in requests {
                group.addTask {
                    do {
                        _ = try await nodeA.store.markSent(request.id, now: now)
                        return (request.id, "sent", nil)
                    } catch let error as ChangeRequestError {
                        return (request.id, "sent", error)
                    }
                }
                group.addTask {
                    do {
                        _ = try await nodeB.store.cancel(request.id, by: patient, now: now)
                        return (request.id, "cancelled", nil)
                    } catch let error as ChangeRequestError {
                        return (request.id, "cancelled", error)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let entries = try await nodeA.entries()
        for request in requests {
            let mine = outcomes.filter { $0.0 == request.id }
            let won = mine.filter { $0.2 == nil }
            #expect(won.count == 1, "\(request.id): \(mine)")
            // The loser was refused as illegal (it saw, or was checked under the lock against, the winner's step).
            #expect(mine.filter { $0.2 != nil }.allSatisfy { $0.2?.code == .illegalTransition })
            let stored = try #require(try await nodeB.store.request(request.id))
            #expect(stored.state.name == won.first?.1)
            let steps = entries.compactMap { ChangeRequestEvent($0) }.filter { $0.requestId == request.id.rawValue }
            #expect(steps.count == 2, "one entry for the creation, one for the step that won")
            #expect(steps.last?.states.last == won.first?.1)
            // Every transition points at the entry that made it.
            for transition in stored.history {
                let entry = try #require(entries.first { $0.index == transition.auditIndex })
                #expect(ChangeRequestEvent(entry)?.requestId == request.id.rawValue)
            }
        }
    }

    @Test("two nodes sending to one pump at once: one command in flight, no sequence used twice")
    func oneInFlightAcrossNodes() async throws {
        let nodeA = try await StoreFixture.make(.postgres)
        let nodeB = try await nodeA.restarted()
        let serial = StoreFixture.serial
        for _ in 0..<10 { _ = try await nodeA.submit() }
        var sequences: [UInt64] = []
        for _ in 0..<5 {
            // Each node sends a different queued command of the same pump at the same moment.
            let queued = try await nodeA.store.openRequests(forPump: serial).filter { $0.state == .queued }
            let (first, second) = (queued[0].id, queued[1].id)
            async let sentA = attempt { try await nodeA.store.markSent(first, now: now) }
            async let sentB = attempt { try await nodeB.store.markSent(second, now: now) }
            let results = await [sentA, sentB]
            let sent = results.compactMap { try? $0.get() }
            #expect(sent.count == 1, "\(results)")
            for case .failure(let error) in results {
                #expect((error as? ChangeRequestError)?.code == .pumpBusy, "\(error)")
            }
            let sequence = try #require(sent.first?.sequence)
            sequences.append(sequence)
            _ = try await nodeB.store.markAcknowledged(serial: serial, sequence: sequence, outcome: .applied, now: now)
        }
        #expect(sequences == Array(1...5))
        #expect(try await nodeA.store.lastSequence(for: serial) == 5)
    }

    @Test("one Idempotency-Key submitted on two nodes at once: one request, and both answers are it")
    func sameKeyOnTwoNodes() async throws {
        let nodeA = try await StoreFixture.make(.postgres)
        let nodeB = try await nodeA.restarted()
        for round in 0..<8 {
            let key = "retry-\(round)"
            async let onA = nodeA.store.submit(submission(key), now: now)
            async let onB = nodeB.store.submit(submission(key), now: now)
            let (a, b) = try await (onA, onB)
            #expect(a.request.id == b.request.id)
            let replays = [a, b].filter { if case .existing = $0 { true } else { false } }
            #expect(replays.count == 1, "\(a) \(b)")
        }
        let requested = try await nodeA.entries().filter { $0.event.kind == .changeRequested }
        #expect(requested.count == 8)
    }

    func submission(_ key: String) -> ChangeSubmission {
        ChangeSubmission(
            pumpSerial: StoreFixture.serial,
            requester: StoreFixture.patient,
            idempotencyKey: key,
            change: StoreFixture.bolus(500),
            decision: StoreFixture.accept
        )
    }

    private func attempt(_ body: () async throws -> ChangeRequest) async -> Result<ChangeRequest, any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    @Test("a step's entry and its rows commit together: killed before the commit, neither is there")
    func entryAndRowsTogether() async throws {
        let fixture = try await StoreFixture.make(.postgres)
        _ = try await fixture.submit(key: "first")
        let size = try await fixture.audit.storedSize()
        await fixture.store.simulateCrash(at: .afterAuditAppend)
        let error = await changeError { _ = try await fixture.submit(key: "second") }
        #expect(error?.code == .storageFailure)

        let restarted = try await fixture.restarted()
        #expect(try await restarted.audit.storedSize() == size)
        #expect(try await restarted.store.request(requester: "alice", idempotencyKey: "second") == nil)
        let report = try await restarted.store.recover(now: now)
        #expect(report.rolledForward.isEmpty && report.problems.isEmpty)
        // The client's retry records it once.
        let retried = try await restarted.submit(key: "second")
        #expect(retried.state == .queued)
        #expect(try await restarted.audit.storedSize() == size + 1)
    }

    @Test("a node starting does not touch the commands another node has in flight")
    func recoveryLeavesOthersInFlight() async throws {
        let nodeA = try await StoreFixture.make(.postgres)
        let request = try await nodeA.submit()
        let sent = try await nodeA.store.markSent(request.id, now: now)
        let nodeB = try await nodeA.restarted()
        let report = try await nodeB.store.recover(now: now)
        #expect(report.markedUncertain.isEmpty)
        #expect(try await nodeB.store.request(request.id)?.state == .sent)
        // The pump's acknowledgement, wherever it arrives, settles it.
        let acknowledged = try await nodeB.store.markAcknowledged(
            serial: StoreFixture.serial,
            sequence: try #require(sent.sequence),
            outcome: .applied,
            now: now
        )
        #expect(acknowledged.state == .applied)
    }
}

@Suite("pump reports shared among nodes (PostgreSQL)")
struct SharedReportTests {
    @Test("a report shared by the node with the session is read by another; an older one never replaces it")
    func newerWins() async throws {
        let nodeA = try await StoreFixture.make(.postgres)
        let nodeB = try await nodeA.restarted()
        let serial = StoreFixture.serial
        #expect(try await nodeB.store.sharedReport(for: serial) == nil)
        let at = StoreFixture.now
        let report = ReportedPumpState(
            suspended: .init(false, at: at),
            reservoir: .init(Milliunits(150_000), at: at),
            glucose: .init(GlucoseMgdL(120), at: at)
        )
        try await nodeA.store.shareReport(report, for: serial, node: "node-a")
        #expect(try await nodeB.store.sharedReport(for: serial) == report)
        // A node that held the session before, late with an older report: ignored.
        let older = ReportedPumpState(suspended: .init(true, at: at.advanced(byMinutes: -5)))
        try await nodeB.store.shareReport(older, for: serial, node: "node-b")
        #expect(try await nodeA.store.sharedReport(for: serial) == report)
        // A newer one replaces it.
        let newer = ReportedPumpState(suspended: .init(true, at: at.advanced(byMinutes: 1)))
        try await nodeB.store.shareReport(newer, for: serial, node: "node-b")
        #expect(try await nodeA.store.sharedReport(for: serial)?.suspended == newer.suspended)
    }

    @Test("on SQLite there is nothing to share: one gateway holds every session")
    func nothingOnSQLite() async throws {
        let fixture = try await StoreFixture.make(.sqlite)
        let report = ReportedPumpState(suspended: .init(false, at: StoreFixture.now))
        try await fixture.store.shareReport(report, for: StoreFixture.serial, node: "gateway")
        #expect(try await fixture.store.sharedReport(for: StoreFixture.serial) == nil)
    }

    @Test("merging two reports takes each reading from whichever is newer")
    func merging() {
        let t0 = StoreFixture.now
        let t1 = t0.advanced(byMinutes: 1)
        let local = ReportedPumpState(suspended: .init(false, at: t1), glucose: .init(GlucoseMgdL(100), at: t0))
        let shared = ReportedPumpState(suspended: .init(true, at: t0), glucose: .init(GlucoseMgdL(140), at: t1))
        let merged = local.merging(shared)
        #expect(merged.suspended == .init(false, at: t1))
        #expect(merged.glucose == .init(GlucoseMgdL(140), at: t1))
    }
}

@Suite("opening a state directory's change store")
struct ChangeStoreOpeningTests {
    @Test(
        "a directory bound to a database, in a program that installed no shared factory, is refused, never changes.sqlite"
    )
    func boundWithoutFactory() async throws {
        let fixture = try await StoreFixture.make(.sqlite)
        let binding = AuditStateDirectory(path: fixture.directory).bindingPath
        #expect(FileManager.default.createFile(atPath: binding, contents: Data("postgres://x@127.0.0.1:1/db\n".utf8)))
        #expect(chmod(binding, 0o600) == 0)
        #expect(ChangeStoreFactories.shared == nil)
        let error = await changeError {
            _ = try await ChangeRequestStore.forStateDirectory(fixture.directory, audit: fixture.audit)
        }
        #expect(error?.code == .storageFailure)
        #expect(error?.reason.contains("cannot open change stores there") == true, "\(error?.reason ?? "")")
    }
}

/// What a node's 5 s sweep looks at when a notification was lost.
@Suite("change store: the delivery sweep's pumps")
struct DeliverySweepTests {
    let now = StoreFixture.now

    @Test(
        "the sweep's list: a pump whose only command another node made uncertain is on it",
        arguments: ChangeBackend.allCases
    )
    func sweepFindsUncertain(_ backend: ChangeBackend) async throws {
        let node = try await StoreFixture.make(backend)
        let request = try await node.submit()
        _ = try await node.store.markSent(request.id, now: now)
        #expect(try await node.store.pumpsWithWork().isEmpty, "sent: in flight on the node that sent it")
        _ = try await node.store.markUncertain(forSerial: request.pumpSerial, now: now)
        #expect(try await node.store.pumpsWithWork() == [request.pumpSerial])
        #expect(try await node.store.pumpsWithOpenRequests().isEmpty)
    }
}

import AuditLog
import Foundation
import MedTunnelTestSupport
import StoresPostgres
import Testing

@testable import SecurityEvents

/// Two gateway nodes on one PostgreSQL database, each with its own log object, connection and
/// store, as two processes would have them.
@Suite("Shared security event store (PostgreSQL, several nodes)")
struct SharedSecurityEventStoreTests {
    @Test("an event recorded on node A is listed on B; an alert raised on A is acknowledged on B and seen so on A")
    func twoNodes() async throws {
        let a = try await EventFixture.make(.postgres)
        let b = try await a.reopened()
        let index = try await a.store.append(EventFixture.event("relay_tunnel_failed", phone: "PHONE-1"))
        #expect(try await b.store.events(phone: "PHONE-1").map(\.auditIndex) == [index])

        let alert = try await a.store.raise(EventFixture.firing())
        #expect(try await b.store.alerts(openOnly: true).map(\.id) == [alert.id])
        let acknowledged = try await b.store.acknowledge(alert.id, by: EventFixture.ines, now: EventFixture.now + 1)
        #expect(acknowledged.acknowledgedBy == "ines")
        #expect(try await a.store.alerts(openOnly: true).isEmpty)
        #expect(try await a.store.alert(alert.id)?.acknowledgedBy == "ines")
        await #expect(throws: EventFixture.error(.alreadyAcknowledged)) {
            try await a.store.acknowledge(alert.id, by: EventFixture.olga, now: EventFixture.now + 2)
        }
        // Both nodes' entries are in the one log, in order, and each row names its own entry.
        let entries = try await b.entries()
        #expect(entries.map(\.event.kind) == [.securityEvent, .alertRaised, .alertAcknowledged])
        #expect(entries[Int(alert.auditIndex)].event.kind == .alertRaised)
    }

    @Test(
        "two nodes acknowledging the same alerts at once: each alert is acknowledged once, with one entry; the other is refused already_acknowledged"
    )
    func racingAcknowledgements() async throws {
        let a = try await EventFixture.make(.postgres)
        let b = try await a.reopened()
        var ids: [String] = []
        for number in 0..<12 {
            ids.append(try await a.store.raise(EventFixture.firing(phone: "PHONE-\(number)")).id)
        }
        let outcomes = await withTaskGroup(of: (String, String, Result<Void, SecurityEventError>).self) { group in
            for id in ids {
                for (node, actor) in [(a, EventFixture.ines), (b, EventFixture.olga)] {
                    group.addTask {
                        do throws(SecurityEventError) {
                            _ = try await node.store.acknowledge(id, by: actor, now: EventFixture.now + 3)
                            return (id, actor.id, .success(()))
                        } catch {
                            return (id, actor.id, .failure(error))
                        }
                    }
                }
            }
            var all: [(String, String, Result<Void, SecurityEventError>)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let entries = try await a.entries().filter { $0.event.kind == .alertAcknowledged }
        for id in ids {
            let mine = outcomes.filter { $0.0 == id }
            let won = mine.filter { if case .success = $0.2 { true } else { false } }
            #expect(won.count == 1, "\(id): \(mine)")
            for case (_, _, .failure(let error)) in mine {
                #expect(error == EventFixture.error(.alreadyAcknowledged), "\(error)")
            }
            let recorded = entries.compactMap(AlertRecord.init).filter { $0.alertId == id }
            #expect(recorded.count == 1, "\(id): \(recorded.count) acknowledgement entries")
            let winner = try #require(won.first?.1)
            #expect(try await b.store.alert(id)?.acknowledgedBy == winner)
        }
    }

    @Test(
        "an event recorded while the database is cut waits in the log and is listed on both nodes once it answers, once; an acknowledgement cut off is refused database_unavailable"
    )
    func databaseCut() async throws {
        let a = try await EventFixture.proxied()
        let b = try await a.reopened()
        let proxy = try #require(a.proxy)
        defer { Task { await proxy.stop() } }
        let alert = try await a.store.raise(EventFixture.firing())
        await proxy.cut()

        let store = a.store
        let recording = Task { try await store.append(EventFixture.event("relay_tunnel_failed", phone: "PHONE-5")) }
        try await Task.sleep(for: .milliseconds(700))
        #expect(try await b.store.events(phone: "PHONE-5").isEmpty)
        await #expect(throws: EventFixture.error(.databaseUnavailable)) {
            try await a.store.acknowledge(alert.id, by: EventFixture.ines, now: EventFixture.now + 1)
        }
        await proxy.restore()
        let index = try await recording.value
        #expect(try await b.store.events(phone: "PHONE-5").map(\.auditIndex) == [index])
        let kinds = try await b.entries().map(\.event.kind)
        #expect(kinds.filter { $0 == .securityEvent }.count == 1)
        #expect(!kinds.contains(.alertAcknowledged))
        #expect(try await b.store.alert(alert.id)?.acknowledgedBy == nil)
        // Once it answers again, the acknowledgement goes through.
        var acknowledged: Alert?
        for _ in 0..<40 where acknowledged == nil {
            acknowledged = try? await a.store.acknowledge(alert.id, by: EventFixture.ines, now: EventFixture.now + 2)
            if acknowledged == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(acknowledged?.acknowledgedBy == "ines")
    }

    @Test(
        "the rules' quiet period is per node (docs/cluster.md): the same firing raised on A and on B is two alerts, each with its entry, each acknowledged on its own"
    )
    func sameFiringOnTwoNodes() async throws {
        let a = try await EventFixture.make(.postgres)
        let b = try await a.reopened()
        let onA = try await a.store.raise(EventFixture.firing())
        let onB = try await b.store.raise(EventFixture.firing())
        #expect(onA.id != onB.id && onA.auditIndex != onB.auditIndex)
        #expect(try await a.store.alerts(openOnly: true).map(\.id) == [onB.id, onA.id])
        _ = try await b.store.acknowledge(onA.id, by: EventFixture.ines, now: EventFixture.now + 1)
        #expect(try await a.store.alerts(openOnly: true).map(\.id) == [onB.id])
    }

    @Test("a bound state directory opens the shared store through the installed factory, and without one is refused")
    func forStateDirectory() async throws {
        let fixture = try await EventFixture.make(.postgres)
        let url = try #require(fixture.postgresURL)
        try AuditStateDirectory(path: fixture.directory).bind(to: url)
        // No factory installed in this test process: refused, never events.sqlite.
        if SecurityEventStoreFactories.shared == nil {
            let refusal = await #expect(throws: EventFixture.error(.storageFailure)) {
                try await SecurityEventStore.forStateDirectory(fixture.directory, audit: fixture.audit)
            }
            #expect(refusal?.reason.contains("cannot open security event stores") == true)
        }
        SecurityEventStoreFactories.shared = { url, audit in
            try await PostgresSharedDatabase.securityEventStore(url: url, audit: audit)
        }
        let store = try await SecurityEventStore.forStateDirectory(fixture.directory, audit: fixture.audit)
        #expect(store.isShared)
        let index = try await fixture.store.append(EventFixture.event("pump_connected", pump: "PUMP-8"))
        #expect(try await store.events(pump: "PUMP-8").map(\.auditIndex) == [index])
    }
}

import AnomalyRules
import AuditLog
import Testing

@testable import SecurityEvents

/// The security event store on each backend: what `GET /v1/events` and `GET /v1/alerts` read,
/// what acknowledging does, and the roll forward from the log.
@Suite("Security event store")
struct SecurityEventStoreTests {
    @Test(
        "events are written to the log, then listed newest first, filtered by kind, pump, phone and time",
        arguments: EventBackend.allCases
    )
    func eventsListedAndFiltered(_ backend: EventBackend) async throws {
        let fixture = try await EventFixture.make(backend)
        let store = fixture.store
        let first = try await store.append(
            EventFixture.event("relay_tunnel_failed", phone: "PHONE-1", reason: "truncated")
        )
        let second = try await store.append(EventFixture.event("settings_mismatch", at: 1_000, pump: "PUMP-1"))
        let third = try await store.append(
            EventFixture.event("relay_tunnel_failed", at: 2_000, phone: "PHONE-2"),
            count: 7,
            minute: 42
        )

        let all = try await store.events()
        #expect(all.map(\.auditIndex) == [third, second, first])
        #expect(all.first?.count == 7 && all.first?.source == "192.0.2.7")
        #expect(all.last?.reason == "truncated" && all.last?.pump == nil)
        #expect(try await store.events(kind: "relay_tunnel_failed").map(\.auditIndex) == [third, first])
        #expect(try await store.events(pump: "PUMP-1").map(\.kind) == ["settings_mismatch"])
        #expect(try await store.events(phone: "PHONE-1").map(\.auditIndex) == [first])
        #expect(try await store.events(since: EventFixture.now + 1_000).map(\.auditIndex) == [third, second])
        #expect(try await store.events(limit: 1).map(\.auditIndex) == [third])

        // Each is an entry of the log at the index the row names.
        let entries = try await fixture.entries()
        for index in [first, second, third] {
            #expect(entries[Int(index)].event.kind == .securityEvent)
        }
        #expect(SecurityEventRecord(entries[Int(third)])?.count == 7)
    }

    @Test(
        "an alert is raised (alert.raised), listed, acknowledged once (alert.acknowledged); again: already_acknowledged; unknown: alert_not_found",
        arguments: EventBackend.allCases
    )
    func alertsRaisedAndAcknowledged(_ backend: EventBackend) async throws {
        let fixture = try await EventFixture.make(backend)
        let store = fixture.store
        let alert = try await store.raise(EventFixture.firing())
        #expect(
            alert.rule == "tampered_records_per_phone" && alert.subject == .phone && alert.subjectValue == "PHONE-9"
        )
        #expect(alert.evidence.first?.reason == "recordRejected")
        #expect(try await store.alerts().map(\.id) == [alert.id])
        #expect(try await store.alerts(openOnly: true).map(\.id) == [alert.id])

        let acknowledged = try await store.acknowledge(alert.id, by: EventFixture.ines, now: EventFixture.now + 5)
        #expect(
            acknowledged.acknowledgedBy == "ines" && acknowledged.acknowledgedAtMilliseconds == EventFixture.now + 5
        )
        #expect(try await store.alerts(openOnly: true).isEmpty)
        #expect(try await store.alert(alert.id)?.acknowledgedBy == "ines")

        await #expect(throws: EventFixture.error(.alreadyAcknowledged)) {
            try await store.acknowledge(alert.id, by: EventFixture.olga, now: EventFixture.now + 6)
        }
        await #expect(throws: EventFixture.error(.notFound)) {
            try await store.acknowledge("alt_0000000000000000", by: EventFixture.olga, now: EventFixture.now + 6)
        }
        // The refusals wrote nothing: one raised entry, one acknowledgement.
        let kinds = try await fixture.entries().map(\.event.kind)
        #expect(kinds == [.alertRaised, .alertAcknowledged])
        #expect(try await store.alert(alert.id)?.acknowledgedBy == "ines")
    }

    @Test(
        "recover() indexes the events and alerts the log holds and the index lacks, once, also when run again",
        arguments: EventBackend.allCases
    )
    func recoverRollsForward(_ backend: EventBackend) async throws {
        let fixture = try await EventFixture.make(backend)
        // As another store (or a node stopped before indexing) leaves them: entries, no rows.
        let record = SecurityEventRecord(EventFixture.event("command_uncertain", pump: "PUMP-3"))
        let eventIndex = try await fixture.audit.append(try record.auditEvent(time: EventFixture.now, pump: "PUMP-3"))
            .index
        let raised = AlertRecord(raising: EventFixture.firing(), id: "alt_00000000000000aa", lockoutID: nil)
        let rules = try AuditActor(id: "rules", role: "system")
        _ = try await fixture.audit.append(try raised.auditEvent(actor: rules))
        let ack = AlertRecord(acknowledging: "alt_00000000000000aa", at: EventFixture.now + 9)
        _ = try await fixture.audit.append(try ack.auditEvent(actor: EventFixture.ines))
        #expect(try await fixture.store.events().isEmpty)
        #expect(try await fixture.store.alerts().isEmpty)

        try await fixture.store.recover()
        try await fixture.store.recover()
        let events = try await fixture.store.events()
        #expect(events.map(\.auditIndex) == [eventIndex] && events.first?.pump == "PUMP-3")
        let alerts = try await fixture.store.alerts()
        #expect(alerts.map(\.id) == ["alt_00000000000000aa"] && alerts.first?.acknowledgedBy == "ines")

        // A store opened again (a restart; on PostgreSQL another node) finds them too, once.
        let again = try await fixture.reopened()
        try await again.store.recover()
        #expect(try await again.store.events().map(\.auditIndex) == [eventIndex])
        #expect(try await again.store.alerts().count == 1)
    }

    @Test(
        "index(): an event another part of the gateway wrote to the log is listed at its index",
        arguments: EventBackend.allCases
    )
    func indexesAuditedEvent(_ backend: EventBackend) async throws {
        let fixture = try await EventFixture.make(backend)
        let event = EventFixture.event("policy_rejection", pump: "PUMP-4")
        let index = try await fixture.audit.append(
            try SecurityEventRecord(event).auditEvent(time: event.timeMilliseconds, pump: "PUMP-4")
        ).index
        try await fixture.store.index(event, auditIndex: index)
        try await fixture.store.index(event, auditIndex: index)  // twice: still one row
        #expect(try await fixture.store.events(pump: "PUMP-4").map(\.auditIndex) == [index])
    }
}

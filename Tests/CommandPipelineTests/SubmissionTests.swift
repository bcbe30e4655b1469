import AccessTokens
import AuditLog
import ChangeRequests
import CommandPipeline
import Foundation
import Testing
import TherapyModel
import TunnelProtocol

/// The API side of the pipeline: authenticate, authorize, policy, audit, store; and the happy
/// path through to the pump's signed acknowledgement.
@Suite("Command pipeline: submissions")
struct SubmissionTests {
    @Test("a bolus within limits: audited, sent with its audit index, applied by the pump, acknowledged")
    func bolusApplied() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            try await fixture.setTherapy()
            pump.connect()
            let submitted = try await fixture.submit(PipelineFixture.bolus(2000))
            #expect(submitted.status == 201 && submitted.created)
            #expect(submitted.request.decision.outcome == .accept)
            await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)

            let request = try await fixture.request(submitted.request.id)
            #expect(request.state == .applied)
            #expect(request.history.map(\.to) == [.accepted, .queued, .sent, .applied])
            #expect(request.sequence == 1)
            #expect(pump.state.lastAppliedSequence == 1)

            // Audit first: the request and decision, then the send, then the acknowledgement.
            let entries = try await fixture.entries()
            let kinds = request.history.map { entries[Int($0.auditIndex)].event.kind }
            #expect(kinds == [.changeRequested, .changeRequested, .commandSent, .commandAcknowledged])
            let indexes = request.history.map(\.auditIndex)
            #expect(indexes == indexes.sorted())
            // The envelope the pump verified names the audit entry that authorised it.
            let command = try #require(pump.commands.first)
            #expect(command.envelope.auditIndex == request.authorizingAuditIndex)
            #expect(command.envelope.sequence == 1 && command.envelope.serial == PipelineFixture.serial)
            #expect(command.envelope.command == .change(.bolus(Milliunits(2000))))
            #expect(command.envelope.expiresAt == request.expiresAt)
            // The acknowledgement is kept as evidence in its audit entry.
            let acknowledged = entries[Int(indexes[3])]
            #expect(String(decoding: acknowledged.event.payload, as: UTF8.self).contains("\"evidence\""))
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test("a missing, malformed, foreign or expired token is a 401 with its reason; nothing is recorded")
    func unauthenticated() async throws {
        let fixture = try await PipelineFixture.make()
        let foreign = try await TokenIssuer(key: .generate(), accounts: fixture.accounts)
        let foreignToken = try await foreign.issue(to: "alice", lifetime: .default, now: fixture.clock.now()).token
        let shortLived = try await fixture.bearer("alice", ttl: "1m")
        try await fixture.running {
            try await fixture.setTherapy()
            let before = try await fixture.audit.storedSize()
            fixture.clock.advance(minutes: 2)
            let cases: [(String?, String)] = [
                (nil, "missing"),
                ("Basic YWxpY2U6cHc=", "malformed"),
                ("Bearer " + foreignToken, "bad_signature"),
                (shortLived, "expired"),
            ]
            for (authorization, reason) in cases {
                let error = await apiError {
                    try await fixture.pipeline.submitChange(
                        serial: PipelineFixture.serial,
                        idempotencyKey: "k-1",
                        body: PipelineFixture.bolus(2000),
                        authorization: authorization
                    )
                }
                #expect(error?.status == 401 && error?.reason == reason)
                #expect(error?.response.headers["WWW-Authenticate"]?.hasPrefix("Bearer realm=\"medtunnel\"") == true)
            }
            #expect(try await fixture.audit.storedSize() == before)
            #expect(try await fixture.store.requests(forPump: PipelineFixture.serial).isEmpty)
        }
    }

    @Test("authenticated but not authorized: 403 with the reason, audited as access.denied, nothing requested")
    func forbidden() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            // operator: no therapy controls at all; drwho: a clinician of another patient (empty
            // intersection); drsmith: a clinician, whose role has no bolus (wrong role for the kind).
            let cases: [(String, String)] = [
                ("olga", "not_authorized"), ("drwho", "not_authorized"), ("drsmith", "control_not_permitted"),
            ]
            for (user, reason) in cases {
                let error = await apiError { try await fixture.submit(PipelineFixture.bolus(2000), by: user) }
                #expect(error?.status == 403 && error?.reason == reason, "\(user)")
            }
            let denied = try await fixture.entries(of: .accessDenied)
            #expect(denied.map(\.event.actor.id) == ["olga", "drwho", "drsmith"])
            #expect(try await fixture.store.requests(forPump: PipelineFixture.serial).isEmpty)
            #expect(try await fixture.entries(of: .changeRequested).isEmpty)
        }
    }

    @Test("a bolus over the prescription is recorded as rejected with its reason (422) and never sent")
    func policyReject() async throws {
        let fixture = try await PipelineFixture.make()
        let pump = try TestPump(fixture: fixture)
        try await fixture.running {
            try await fixture.setTherapy()
            pump.connect()
            let submitted = try await fixture.submit(PipelineFixture.bolus(12_000))
            #expect(submitted.status == 422)
            #expect(submitted.request.state == .rejected)
            #expect(submitted.request.decision.reasons.map(\.code).contains("prescription_max_bolus_exceeded"))
            await fixture.pipeline.waitUntilIdle(PipelineFixture.serial)
            #expect(pump.received.withLock { $0 }.isEmpty)
            #expect(try await fixture.entries(of: .changeRequested).count == 1)
            #expect(try await fixture.entries(of: .commandSent).isEmpty)
            try await expectAuditAgreesWithPump(fixture, pump)
        }
    }

    @Test("boluses on their way count against the hourly limit: the third 6 U bolus in an hour is rejected")
    func pendingBolusesCount() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            await (try TestPump(fixture: fixture)).seenThenOffline(fixture)
            // Pump offline: both stay queued; 1.5 × 10 U = 15 U an hour.
            #expect(try await fixture.submit(PipelineFixture.bolus(6000)).status == 201)
            #expect(try await fixture.submit(PipelineFixture.bolus(6000)).status == 201)
            let third = try await fixture.submit(PipelineFixture.bolus(6000))
            #expect(third.status == 422)
            #expect(third.request.decision.reasons.map(\.code) == ["bolus_hourly_total_exceeded"])
        }
    }

    @Test("the same Idempotency-Key twice creates one request and one audit entry; another body is a 409")
    func idempotency() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            await (try TestPump(fixture: fixture)).seenThenOffline(fixture)
            let first = try await fixture.submit(PipelineFixture.bolus(2000), key: "meal-2025-11-21-1")
            let again = try await fixture.submit(PipelineFixture.bolus(2000), key: "meal-2025-11-21-1")
            #expect(first.created && !again.created)
            #expect(again.request.id == first.request.id && again.status == 201)
            #expect(try await fixture.entries(of: .changeRequested).count == 1)
            #expect(try await fixture.store.requests(forPump: PipelineFixture.serial).count == 1)

            let reused = await apiError {
                try await fixture.submit(PipelineFixture.bolus(3000), key: "meal-2025-11-21-1")
            }
            #expect(reused?.status == 409 && reused?.reason == "idempotency_key_reused")
            let missing = await apiError {
                try await fixture.pipeline.submitChange(
                    serial: PipelineFixture.serial,
                    idempotencyKey: nil,
                    body: PipelineFixture.bolus(2000),
                    authorization: try await fixture.bearer("alice")
                )
            }
            #expect(missing?.status == 400 && missing?.reason == "idempotency_key_missing")
            #expect(try await fixture.entries(of: .changeRequested).count == 1)
        }
    }

    @Test("bad input is a 400 naming the field; an unknown pump is a 404")
    func badInput() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            let fraction = await apiError {
                try await fixture.submit(Data("{\"kind\":\"bolus\",\"milliunits\":1.5}".utf8))
            }
            #expect(fraction?.status == 400 && fraction?.reason == "wrong_type")
            #expect(fraction?.message.hasPrefix("change.milliunits") == true)
            let unknownField = await apiError {
                try await fixture.submit(Data("{\"kind\":\"bolus\",\"milliunits\":100,\"units\":1}".utf8))
            }
            #expect(unknownField?.status == 400 && unknownField?.reason == "unknown_field")
            let badSerial = await apiError { try await fixture.submit(PipelineFixture.bolus(100), serial: "PUMP 1") }
            #expect(badSerial?.status == 400 && badSerial?.reason == "invalid_input")
            let unknown = await apiError { try await fixture.submit(PipelineFixture.bolus(100), serial: "PUMP-0404") }
            #expect(unknown?.status == 404 && unknown?.reason == "unknown_pump")
        }
    }

    @Test("reading: the requester, the patient's people and reviewers see a request; others get a 403")
    func reading() async throws {
        let fixture = try await PipelineFixture.make()
        try await fixture.running {
            try await fixture.setTherapy()
            let id = try await fixture.submit(PipelineFixture.bolus(2000), by: "carol").request.id.rawValue
            for user in ["carol", "alice", "drjones", "olga"] {
                let request = try await fixture.pipeline.change(id, authorization: try await fixture.bearer(user))
                #expect(request.id.rawValue == id)
            }
            let stranger = await apiError {
                try await fixture.pipeline.change(id, authorization: try await fixture.bearer("drwho"))
            }
            #expect(stranger?.status == 403 && stranger?.reason == "not_authorized")
            let missing = await apiError {
                try await fixture.pipeline.change(
                    "chg_AAAAAAAAAAAAAAAAAAAAAA",
                    authorization: try await fixture.bearer("alice")
                )
            }
            #expect(missing?.status == 404 && missing?.reason == "not_found")
            let listed = try await fixture.pipeline.changes(
                forPump: PipelineFixture.serial,
                authorization: try await fixture.bearer("alice")
            )
            #expect(listed.map(\.id.rawValue) == [id])
            let listStranger = await apiError {
                try await fixture.pipeline.changes(
                    forPump: PipelineFixture.serial,
                    authorization: try await fixture.bearer("drwho")
                )
            }
            #expect(listStranger?.status == 403)
        }
    }
}

/// The error `body` throws, if it is a `ChangeAPIError`.
func apiError<T>(_ body: () async throws -> T) async -> ChangeAPIError? {
    do {
        _ = try await body()
        return nil
    } catch let error as ChangeAPIError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

/// The end state every test must reach: the audit log verifies entry by entry, every command
/// the pump consumed was audited as sent before, the highest applied sequence in the log is the
/// pump's, and the settings the gateway expects are the pump's.
func expectAuditAgreesWithPump(_ fixture: PipelineFixture, _ pump: TestPump) async throws {
    let report = try await fixture.verifyAuditLog()
    #expect(report.size == (try await fixture.audit.storedSize()))
    let entries = try await fixture.entries()
    var sentAt: [UInt64: UInt64] = [:]
    for entry in entries where entry.event.kind == .commandSent && entry.event.pumpSerial == pump.serial {
        let payload = try JSONSerialization.jsonObject(with: Data(entry.event.payload)) as? [String: Any]
        let sequence = try #require((payload?["sequence"] as? NSNumber)?.uint64Value)
        sentAt[sequence] = entry.index
    }
    for command in pump.commands {
        let sent = try #require(
            sentAt[command.envelope.sequence],
            "sequence \(command.envelope.sequence) never audited"
        )
        #expect(command.envelope.auditIndex < sent)
        let authorising = entries[Int(command.envelope.auditIndex)].event.kind
        #expect(authorising == .changeRequested || authorising == .changeApproved)
    }
    #expect(pump.state.highWaterSequence <= (sentAt.keys.max() ?? 0))
    let requests = try await fixture.store.requests(forPump: pump.serial, limit: 1000)
    let applied = requests.filter { $0.state == .applied }.sorted { ($0.sequence ?? 0) < ($1.sequence ?? 0) }
    #expect((applied.last?.sequence ?? 0) == pump.state.lastAppliedSequence)
    if let therapy = try await fixture.store.therapy(for: pump.serial), let baseline = therapy.settings {
        let expected = applied.reduce(baseline) { $0.applying($1.change) }
        #expect(expected == pump.state.settings)
    }
}

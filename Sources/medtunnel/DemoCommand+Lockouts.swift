import AnomalyRules
import ChangeRequests
import CommandPipeline
import Foundation
import Gateway
import GatewayTLS
import Logging
import MedTunnelPKI
import NIOCore
import NIOPosix
import PumpRuntime
import PumpSimulator
import RelayCore
import RelayHostility
import SecurityEvents

/// A phone relay of the demo: its uplink to the gateway and the port its pumps connect to.
struct DemoPhone {
    let id: String
    let relay: PhoneRelay
    let uplink: any Channel
    let links: PumpLinkListening
    let hostile: HostileRelay?

    var port: Int { links.channel.localAddress?.port ?? 0 }

    func close() {
        uplink.close(promise: nil)
        links.channel.close(promise: nil)
    }
}

extension DemoCommand {
    /// Starts phone `id`'s relay (its certificate from the demo's PKI), hostile with `spec`.
    static func startPhone(
        _ id: String,
        pki: PKIDirectory,
        gatewayPort: Int,
        hostility spec: String? = nil,
        logger: Logger
    ) async throws -> DemoPhone {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        var hostile: HostileRelay?
        var interposer: PumpLinkInterposer?
        if let spec {
            let relay = HostileRelay(spec: try HostilitySpec(parsing: spec), seed: 7, eventLoop: loop, logger: logger)
            hostile = relay
            interposer = { link, openStream in try relay.install(on: link, openStream: openStream) }
        }
        let phone = try Self.credentials(.phone(id: id), pki: pki)
        let tls = try GatewayTLSContext(
            .phoneClient(
                trustRootsPEM: phone.caCertificatePEM,
                certificateChainPEM: phone.certificatePEM,
                privateKeyPEM: phone.privateKeyPEM,
                gatewayHost: "127.0.0.1"
            )
        )
        let relay = PhoneRelay(
            configuration: .init(tls: tls, gatewayHost: "127.0.0.1", gatewayPort: gatewayPort, interposer: interposer),
            eventLoop: loop,
            logger: logger
        )
        let uplink = try await relay.connectUplink()
        let links = try await relay.listen(TCPPumpLinkListener(host: "127.0.0.1", port: 0))
        return DemoPhone(id: id, relay: relay, uplink: uplink, links: links, hostile: hostile)
    }

    /// Keeps `pump` connected through `port` (reconnecting after each cut) until cancelled.
    static func keepConnected(_ pump: SimulatedPump, port: Int, firstTelemetry: UInt64) -> Task<Void, Never> {
        Task {
            var sequence = firstTelemetry
            while !Task.isCancelled {
                _ = try? await pump.runSession(
                    host: "127.0.0.1",
                    port: port,
                    telemetryCount: 100_000,
                    intervalMilliseconds: 50,
                    firstTelemetrySequence: sequence,
                    group: MultiThreadedEventLoopGroup.singleton
                )
                sequence = (pump.lastAcknowledgedSequence ?? sequence) + 1
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Steps of the incident story: a lockout applied and acknowledged, a bolus refused under it,
    /// the two-person lift, and a phone that cuts commands locked out by a rule.
    func tellLockouts(
        _ story: DemoStory,
        gateway: GatewayServer,
        commands: CommandPipeline,
        pump: SimulatedPump,
        phone1Port: Int,
        gatewayPort: Int,
        tokens: [String: String],
        pki: PKIDirectory,
        logger: Logger
    ) async throws {
        let serial = pump.serial
        let runtime = try story.require(pump.runtime, "\(serial) has no runtime")

        story.step("Incident staff (ines) lock out PUMP-0001: a standing order, audited before anything is sent")
        var session = Self.keepConnected(pump, port: phone1Port, firstTelemetry: 1_000)
        try await story.eventually(await commands.status(of: serial).connected, "PUMP-0001 did not reconnect")
        let started = ContinuousClock.now
        let view = try await commands.startLockout(
            body: Data(#"{"scope": "pump:PUMP-0001", "reason": "demo: the patient's app reported compromised"}"#.utf8),
            authorization: tokens["ines"]
        )
        let id = view.lockout.id.rawValue
        var acknowledged = false
        for _ in 0..<500 where !acknowledged {
            acknowledged = try await commands.lockoutDetail(id, authorization: tokens["ines"]).pumps.contains {
                $0.serial == serial && $0.acknowledgedAt != nil
            }
            if !acknowledged { try await Task.sleep(for: .milliseconds(5)) }
        }
        let elapsed = ContinuousClock.now - started
        try story.expect(acknowledged, "PUMP-0001 did not acknowledge the lockout")
        try story.expect(runtime.state.isLockedOut, "PUMP-0001 does not hold the lockout")
        story.line(
            "lockout \(id) (pump:PUMP-0001), audit index \(view.lockout.started.auditIndex): lockoutStart sent first, "
                + "signed, applied and acknowledged by the pump in \(Self.milliseconds(elapsed)) ms"
        )
        story.line("the pump keeps its basal program (suspendDelivery false) and refuses remote changes")

        story.step("alice asks for a 1 U bolus while PUMP-0001 is locked out")
        let refused = try await commands.submitChange(
            serial: serial,
            idempotencyKey: UUID().uuidString,
            body: Data(#"{"kind": "bolus", "milliunits": 1000}"#.utf8),
            authorization: tokens["alice"]
        )
        let reason = try story.require(refused.request.decision.reasons.first, "the bolus has no reason")
        try story.expect(reason.code == "pump_locked_out", "the bolus was not refused pump_locked_out: \(reason.code)")
        story.line("rejected by the gateway's own lockout state: \(reason.code): \(reason.message)")

        story.step("Lifting takes two different incident users")
        _ = try await commands.requestLockoutLift(id, authorization: tokens["ines"])
        story.line("ines asks to lift it (lift_requested, audited)")
        do {
            _ = try await commands.confirmLockoutLift(id, authorization: tokens["ines"])
            throw DemoFailure("ines confirmed her own lift")
        } catch let error as ChangeAPIError where error.reason == "same_person" {
            story.line("ines confirms it herself: refused (\(error.status) \(error.reason))")
        }
        let lifted = try await commands.confirmLockoutLift(id, authorization: tokens["ivan"])
        try story.expect(lifted.lockout.stateName == "lifted", "the lockout is \(lifted.lockout.stateName)")
        try await story.eventually(!runtime.state.isLockedOut, "PUMP-0001 did not apply the lift", seconds: 10)
        story.line(
            "ivan confirms: lifted (audit index \(lifted.lockout.lifted?.auditIndex ?? 0), both names in the log); "
                + "the pump applied lockoutLift"
        )
        session.cancel()
        await session.value

        story.step("PHONE-2 cuts every command record (commands travel at ~150 B, telemetry under 100)")
        let phone2 = try await Self.startPhone(
            "PHONE-2",
            pki: pki,
            gatewayPort: gatewayPort,
            hostility: "truncate,dir=down,records=app,min-bytes=120",
            logger: logger
        )
        defer { phone2.close() }
        session = Self.keepConnected(pump, port: phone2.port, firstTelemetry: (pump.lastAcknowledgedSequence ?? 0) + 1)
        var cut: [ChangeRequest] = []
        for amount in [500, 600] {
            try await story.eventually(
                await commands.status(of: serial).connected,
                "PUMP-0001 did not connect",
                seconds: 10
            )
            let bolus = try await commands.submitChange(
                serial: serial,
                idempotencyKey: UUID().uuidString,
                body: Data(#"{"kind": "bolus", "milliunits": \#(amount)}"#.utf8),
                authorization: tokens["alice"]
            )
            // The first cut settles `not_applied` at the pump's next hello through PHONE-2; the
            // second stays `uncertain` when the rule has already shut PHONE-2 out.
            let last = amount == 600
            let request = try await Self.waitFor(bolus.request, commands, token: tokens["alice"]) {
                $0.state.isTerminal || (last && $0.state == .uncertain)
            }
            cut.append(request)
            story.line(
                "bolus \(amount) mU: \(request.history.map(\.to.name).joined(separator: ", "))"
                    + (request.history.last?.note.map { " — \($0)" } ?? "")
            )
        }
        try story.expect(cut[0].state == .notApplied, "the first cut bolus ended \(cut[0].state)")
        try story.expect([.uncertain, .notApplied].contains(cut[1].state), "the second cut bolus is \(cut[1].state)")
        let events = try story.require(gateway.events, "the gateway has no event recorder")
        var alert: SecurityEvents.Alert?
        for _ in 0..<500 where alert == nil {
            alert = try await events.store.alerts(limit: 10).first { $0.rule == "phone_cuts_commands" }
            if alert == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let fired = try story.require(alert, "no rule fired on PHONE-2's cuts")
        let lockout = try story.require(fired.lockoutID, "the rule did not lock PHONE-2 out")
        story.line("rule \(fired.rule) fired: \(fired.summary)")
        story.line("alert \(fired.id) (audit index \(fired.auditIndex)); PHONE-2 locked out automatically (\(lockout))")
        try await story.eventually(
            !(gateway.phones.phone("PHONE-2")?.connected ?? false),
            "PHONE-2's uplink is still open"
        )
        story.line("the gateway closed PHONE-2's uplink and refuses its reconnections")
        session.cancel()
        await session.value

        story.step("PUMP-0001 moves to the patient's other phone, PHONE-3, and the next bolus applies")
        let phone3 = try await Self.startPhone("PHONE-3", pki: pki, gatewayPort: gatewayPort, logger: logger)
        defer { phone3.close() }
        session = Self.keepConnected(pump, port: phone3.port, firstTelemetry: (pump.lastAcknowledgedSequence ?? 0) + 1)
        defer { session.cancel() }
        try await story.eventually(
            await commands.status(of: serial).connected,
            "PUMP-0001 did not connect",
            seconds: 10
        )
        let bolus = try await commands.submitChange(
            serial: serial,
            idempotencyKey: UUID().uuidString,
            body: Data(#"{"kind": "bolus", "milliunits": 500}"#.utf8),
            authorization: tokens["alice"]
        )
        let request = try await Self.waitFor(bolus.request, commands, token: tokens["alice"]) { $0.state.isTerminal }
        try story.expect(request.state == .applied, "the bolus through PHONE-3 ended \(request.state)")
        let second = try await commands.change(cut[1].id.rawValue, authorization: tokens["alice"])
        try story.expect(second.state == .notApplied, "the second cut bolus ended \(second.state)")
        story.line("its hello settled the second cut bolus: not_applied (never re-sent)")
        story.line("bolus 500 mU through PHONE-3: applied as sequence \(request.sequence ?? 0)")
        session.cancel()
        await session.value
    }

    /// Reads `request` again until `done` holds for it (or 10 s pass).
    static func waitFor(
        _ request: ChangeRequest,
        _ commands: CommandPipeline,
        token: String?,
        until done: (ChangeRequest) -> Bool
    ) async throws -> ChangeRequest {
        var request = request
        for _ in 0..<1000 where !done(request) {
            try await Task.sleep(for: .milliseconds(10))
            request = try await commands.change(request.id.rawValue, authorization: token)
        }
        return request
    }

    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.1f", Double(seconds) * 1e3 + Double(attoseconds) / 1e15)
    }
}

extension DemoCommand {
    /// The clinical-state step: a bolus on a suspended pump is refused by the gateway from what
    /// the pump reports; after the resume it applies.
    func tellClinicalState(
        _ story: DemoStory,
        commands: CommandPipeline,
        pump: SimulatedPump,
        phone1Port: Int,
        tokens: [String: String]
    ) async throws {
        let serial = pump.serial
        story.step("alice suspends insulin delivery, then asks for a 1 U bolus")
        let session = Self.keepConnected(pump, port: phone1Port, firstTelemetry: 500)
        defer { session.cancel() }
        func ready() async -> Bool {
            guard await commands.status(of: serial).connected else { return false }
            return await commands.reportedState(of: serial).freshGlucose(now: CommandPipeline.wallClock()) != nil
        }
        try await story.eventually(await ready(), "PUMP-0001 did not reconnect", seconds: 10)
        func submit(_ body: String) async throws -> ChangeRequest {
            let submitted = try await commands.submitChange(
                serial: serial,
                idempotencyKey: UUID().uuidString,
                body: Data(body.utf8),
                authorization: tokens["alice"]
            )
            return try await Self.waitFor(submitted.request, commands, token: tokens["alice"]) { $0.state.isTerminal }
        }
        let suspended = try await submit(#"{"kind": "suspend"}"#)
        try story.expect(suspended.state == .applied, "the suspend ended \(suspended.state)")
        story.line("suspend applied (sequence \(suspended.sequence ?? 0)); the pump reports delivery suspended")
        let refused = try await submit(#"{"kind": "bolus", "milliunits": 1000}"#)
        let reason = try story.require(refused.decision.reasons.first, "the bolus has no reason")
        try story.expect(reason.code == "pump_suspended", "the bolus was not refused pump_suspended: \(reason.code)")
        story.line("bolus rejected by the gateway: \(reason.code): \(reason.message)")
        let resumed = try await submit(#"{"kind": "resume"}"#)
        try story.expect(resumed.state == .applied, "the resume ended \(resumed.state)")
        let bolus = try await submit(#"{"kind": "bolus", "milliunits": 1000}"#)
        try story.expect(bolus.state == .applied, "the bolus after the resume ended \(bolus.state)")
        story.line("resume applied; the same bolus is then applied (sequence \(bolus.sequence ?? 0))")
        session.cancel()
        await session.value
    }
}

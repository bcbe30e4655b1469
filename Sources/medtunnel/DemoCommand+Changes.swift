import AccessTokens
import Accounts
import AuditLog
import ChangeRequests
import CommandPipeline
import Foundation
import Gateway
import MedTunnelPKI
import NIOPosix
import PumpRuntime
import PumpSimulator
import RelayHostility
import SafetyPolicy
import TherapyJSON
import TherapyModel
import TunnelProtocol

/// The demo's therapy: the same formats as Examples/policy (a 0.05 U pump, a 10 U maximum
/// bolus prescribed by the clinician), kept inline so the demo runs from any directory.
enum DemoTherapy {
    static let model = """
        {"name": "Demo 0.05 U pump", "bolusStepMilliunits": 50, "basalRateStepMilliunitsPerHour": 50,
         "maxBolusMilliunits": 25000, "maxBasalRateMilliunitsPerHour": 35000, "maxScheduleEntries": 24,
         "minimumSegmentMinutes": 30, "tempBasalDurationStepMinutes": 30, "maxTempBasalDurationMinutes": 720,
         "supportedControls": ["set_basal_schedule", "temp_basal", "bolus", "set_max_basal", "set_max_bolus",
           "set_carb_ratios", "set_sensitivities", "set_correction_range", "set_suspend_threshold", "suspend", "resume"]}
        """
    static let prescription = """
        {"patientId": "patient-001", "maxBolusMilliunits": 10000, "maxBasalRateMilliunitsPerHour": 3000,
         "maxDailyTotalMilliunits": 60000, "carbRatioGramsPerUnit": {"min": 5, "max": 25},
         "sensitivityMgdLPerUnit": {"min": 20, "max": 150}, "correctionRangeMgdL": {"min": 90, "max": 150},
         "suspendThresholdMgdL": {"min": 70, "max": 90},
         "enabledControls": ["set_basal_schedule", "temp_basal", "bolus", "set_max_basal", "set_max_bolus",
           "set_carb_ratios", "set_sensitivities", "set_correction_range", "set_suspend_threshold", "suspend", "resume"]}
        """
    static let settings = """
        {"basalSchedule": [{"startMinute": 0, "milliunitsPerHour": 800}, {"startMinute": 360, "milliunitsPerHour": 1000}],
         "maxBasalRateMilliunitsPerHour": 3000, "maxBolusMilliunits": 10000,
         "carbRatioSchedule": [{"startMinute": 0, "gramsPerUnit": 10}],
         "sensitivitySchedule": [{"startMinute": 0, "mgdLPerUnit": 45}],
         "correctionRangeSchedule": [{"startMinute": 0, "lowerMgdL": 100, "upperMgdL": 120}],
         "suspendThresholdMgdL": 75}
        """
    /// `PUT /v1/pumps/{serial}/prescription`'s body.
    static var document: Data {
        Data("{\"prescription\": \(prescription), \"model\": \(model), \"settings\": \(settings)}".utf8)
    }
}

extension DemoCommand {
    /// The pump link (counted by the relay from 1) of PUMP-0001's command session: three pumps,
    /// a resumption, the tampered session and the revoked pump come first.
    static let commandLink = 7

    /// A demo pump's command core: its state file under the demo's directory, the demo's model
    /// and settings, the command key installed in its own folder pinned.
    static func runtime(serial: String, pki: PKIDirectory, root: String) throws -> PumpRuntime {
        let directory = root + "/pump-state"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let credentials = try Self.credentials(.pump(serial: serial), pki: pki)
        return try PumpRuntime(
            PumpRuntime.Configuration(
                serial: serial,
                model: try TherapyJSON.pumpModel(from: Data(DemoTherapy.model.utf8)),
                commandPublicKeyPEM: credentials.commandPublicKeyPEM ?? "",
                deviceKeyPEM: credentials.privateKeyPEM,
                stateFilePath: PumpRuntime.stateFilePath(directory: directory, serial: serial)
            ),
            factorySettings: try TherapyJSON.settings(from: Data(DemoTherapy.settings.utf8))
        )
    }

    /// The accounts of the story and a 15-minute token for each, as `Authorization` values.
    func accounts(_ root: String, audit: AuditLog) async throws -> [String: String] {
        let state = root + "/state"
        let store = try AccountStore.open(stateDirectory: state)
        let admin = try AuditActor(id: "demo-admin", role: ActorRole.admin.rawValue)
        let users: [(String, ActorRole, [String])] = [
            ("alice", .patient, ["patient=patient-001", "phone=PHONE-1"]),
            ("drsmith", .clinician, ["patient=patient-001"]),
            ("drjones", .clinician, ["patient=patient-001"]),
            ("ines", .incident, []),
            ("ivan", .incident, []),
            ("olga", .operator, []),
        ]
        let issuer = try await TokenIssuer(key: try TokenSigningKey.load(stateDirectory: state), accounts: store)
        var tokens: [String: String] = [:]
        for (id, role, attributes) in users {
            _ = try await store.add(
                id: id,
                role: role,
                attributes: try AccountAttributes(try attributes.map { try AccountAttribute(parsing: $0) }, for: role),
                by: admin,
                now: CommandClock.now(),
                audit: audit
            )
            let issued = try await issuer.issue(
                to: id,
                lifetime: try TokenLifetime(parsing: "15m"),
                now: CommandClock.now()
            )
            tokens[id] = "Bearer \(issued.token)"
        }
        return tokens
    }

    /// Steps a–e of the command story (see the README): therapy, a bolus applied, one rejected,
    /// a change held and approved, and the hostile phone's replay refused.
    func tellCommands(
        _ story: DemoStory,
        gateway: GatewayServer,
        commands: CommandPipeline,
        pump: SimulatedPump,
        relay: (port: Int, hostile: HostileRelay),
        root: String
    ) async throws -> [String: String] {
        let serial = pump.serial
        story.step(
            "Accounts and tokens: alice (patient), drsmith and drjones (her clinicians), ines and ivan "
                + "(incident staff), olga (operator)"
        )
        let tokens = try await self.accounts(root, audit: commands.audit)
        story.line("6 accounts added (audited), a 15-minute signed bearer token each")

        story.step("PUMP-0001 connects through the phone and stays")
        let screen = Self.showPairingCode(on: pump)
        let session = Task {
            try await pump.runSession(
                host: "127.0.0.1",
                port: relay.port,
                telemetryCount: 100_000,
                intervalMilliseconds: 50,
                firstTelemetrySequence: 100,
                group: MultiThreadedEventLoopGroup.singleton
            )
        }
        var connected = false
        for _ in 0..<500 where !connected {
            try await Task.sleep(for: .milliseconds(10))
            connected = await commands.status(of: serial).connected
        }
        try story.expect(connected, "PUMP-0001 did not connect for commands")
        try await self.tellPairing(story, commands: commands, serial: serial, screen: screen, tokens: tokens)

        story.step("drsmith sets PUMP-0001's prescription (10 U max bolus), pump model and current settings")
        let therapy = try await commands.setTherapy(
            serial: serial,
            body: DemoTherapy.document,
            authorization: tokens["drsmith"]
        )
        story.line("therapy version \(therapy.version), audited (pump.therapy.set) at index \(therapy.auditIndex)")
        try await self.tellUnpairedRefusal(story, commands: commands, tokens: tokens)

        story.step("alice asks for a 2 U bolus")
        // The policy reads the pump's reported state: wait for its first telemetry (glucose).
        try await story.eventually(
            await commands.reportedState(of: serial).freshGlucose(now: CommandPipeline.wallClock()) != nil,
            "PUMP-0001 sent no glucose reading"
        )
        let bolus = try await commands.submitChange(
            serial: serial,
            idempotencyKey: UUID().uuidString,
            body: Data(#"{"kind": "bolus", "milliunits": 2000}"#.utf8),
            authorization: tokens["alice"]
        )
        try story.expect(bolus.status == 201, "the 2 U bolus was not accepted: \(bolus.request.decision.outcome)")
        let applied = try await self.settled(bolus.request.id.rawValue, commands, token: tokens["alice"])
        try story.expect(applied.state == .applied, "the 2 U bolus ended \(applied.state)")
        let bolusSequence = try story.require(applied.sequence, "the bolus has no sequence")
        story.line("request \(applied.id), accepted by the policy, sent as command sequence \(bolusSequence)")
        story.line("signed (ECDSA P-256, command key), carried through the phone inside the pump's TLS")
        story.line("applied by the pump; its signed acknowledgement verified and recorded")
        story.line("history: " + applied.history.map { "\($0.to.name) @\($0.auditIndex)" }.joined(separator: ", "))
        let lastApplied = pump.runtime?.state.lastAppliedSequence ?? 0
        try story.expect(lastApplied == bolusSequence, "the pump reports last applied sequence \(lastApplied)")
        story.line("the pump reports last applied sequence \(lastApplied)")

        story.step("alice asks for a 12 U bolus, above the clinician's 10 U prescription")
        let above = try await commands.submitChange(
            serial: serial,
            idempotencyKey: UUID().uuidString,
            body: Data(#"{"kind": "bolus", "milliunits": 12000}"#.utf8),
            authorization: tokens["alice"]
        )
        try story.expect(above.status == 422 && above.request.state == .rejected, "the 12 U bolus was not rejected")
        for reason in above.request.decision.reasons { story.line("rejected: \(reason.code): \(reason.message)") }
        try story.expect(
            above.request.decision.reasons.contains { $0.code == "prescription_max_bolus_exceeded" },
            "the rejection does not name prescription_max_bolus_exceeded"
        )
        try story.expect(above.request.sequence == nil, "the rejected bolus was given a sequence")
        story.line("logged at index \(above.request.requestAuditIndex); nothing is sent to the pump")

        story.step("drsmith sets the suspend threshold to 85 mg/dL, outside the recommended range")
        let held = try await commands.submitChange(
            serial: serial,
            idempotencyKey: UUID().uuidString,
            body: Data(#"{"kind": "set_suspend_threshold", "mgdL": 85}"#.utf8),
            authorization: tokens["drsmith"]
        )
        try story.expect(held.status == 202, "the change was not held for approval: \(held.request.state)")
        story.line("held for approval (request \(held.request.id), audit index \(held.request.requestAuditIndex))")
        do {
            _ = try await commands.approveChange(held.request.id.rawValue, authorization: tokens["drsmith"])
            throw DemoFailure("drsmith approved his own change")
        } catch let error as ChangeAPIError where error.reason == "self_approval" {
            story.line("drsmith approves it himself: refused (\(error.status) \(error.reason))")
        }
        _ = try await commands.approveChange(held.request.id.rawValue, authorization: tokens["drjones"])
        let threshold = try await self.settled(held.request.id.rawValue, commands, token: tokens["drjones"])
        try story.expect(threshold.state == .applied, "the approved change ended \(threshold.state)")
        story.line(
            "drjones approves it; sent as sequence \(threshold.sequence.map(String.init) ?? "?"), applied, "
                + "acknowledged (history: \(threshold.history.map { "\($0.to.name) @\($0.auditIndex)" }.joined(separator: ", ")))"
        )

        story.step("The hostile phone replays PUMP-0001's command session; an attacker replays the bolus command")
        let eventsBefore = gateway.registry.events.count
        session.cancel()
        _ = try? await session.value
        try await story.eventually(
            relay.hostile.counters[.replay] >= 1,
            "the hostile phone did not replay the session"
        )
        try await story.eventually(
            gateway.registry.events.dropFirst(eventsBefore).contains { $0.kind == "handshake_failed" },
            "no security event for the replayed session"
        )
        let event = gateway.registry.events.dropFirst(eventsBefore).first { $0.kind == "handshake_failed" }
        story.line(
            "the phone played the pump's recorded bytes (hello, acknowledgements) to the gateway on a new stream:"
        )
        story.line(
            "refused in the TLS handshake; security event recorded: \(event?.kind ?? "?") (\(event?.reason ?? "-"))"
        )
        let runtime = try story.require(pump.runtime, "PUMP-0001 has no runtime")
        let envelope = try story.require(pump.commandsReceived.first, "PUMP-0001 received no command")
        let replay = runtime.handle(commandBody: envelope, now: PumpRuntime.wallClock())
        try story.expect(
            replay.content.result == .refused(.replayedSequence),
            "the replayed bolus command was answered \(replay.content.result)"
        )
        story.line(
            "the bolus envelope itself, byte for byte with its valid signature, fed to the pump again: refused "
                + "(\(CommandRefusal.replayedSequence))"
        )
        let after = runtime.state.lastAppliedSequence
        let final = try await commands.change(applied.id.rawValue, authorization: tokens["alice"])
        try story.expect(after == threshold.sequence, "the pump's last applied sequence moved to \(after)")
        try story.expect(final.state == .applied && final.history.count == applied.history.count, "the bolus changed")
        story.line("nothing applied twice: the pump's last applied sequence is still \(after); the bolus stays applied")
        return tokens
    }

    /// Reads change `id` until it reaches a final state (or 10 s pass).
    private func settled(_ id: String, _ commands: CommandPipeline, token: String?) async throws -> ChangeRequest {
        var request = try await commands.change(id, authorization: token)
        for _ in 0..<1000 where !request.state.isTerminal {
            try await Task.sleep(for: .milliseconds(10))
            request = try await commands.change(id, authorization: token)
        }
        return request
    }
}

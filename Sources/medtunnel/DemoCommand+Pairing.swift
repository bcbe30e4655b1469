import ChangeRequests
import CommandPipeline
import Foundation
import PumpSimulator
import QRCode
import TunnelProtocol

/// The demo's pairing story: PUMP-0001 shows its QR code and offers it through its tunnel, the
/// demo passes the code's text on as alice's app would after scanning it, alice pairs the pump,
/// and only then can her clinician set its therapy; an unpaired pump's therapy is refused.
extension DemoCommand {
    /// Before the pump connects: it will show a pairing code at its first session.
    static func showPairingCode(on pump: SimulatedPump) -> Locked<SignedPairingCode?> {
        let screen = Locked<SignedPairingCode?>(nil)
        pump.pairing = PumpPairing { code in screen.withLock { $0 = code } }
        return screen
    }

    /// Once the pump is connected: show its QR code, pair it as alice, and show drjones refused
    /// for a pump no one paired.
    func tellPairing(
        _ story: DemoStory,
        commands: CommandPipeline,
        serial: String,
        screen: Locked<SignedPairingCode?>,
        tokens: [String: String]
    ) async throws {
        story.step(
            "\(serial) is not paired: it shows a pairing code (serial, one-time nonce, expiry, signed by its key)"
        )
        try await story.eventually(screen.withLock { $0 } != nil, "\(serial) showed no pairing code")
        let code = try story.require(screen.withLock { $0 }, "no pairing code")
        for row in try QRCode(encoding: code.text).terminalText(quietZone: 2).split(separator: "\n") {
            story.line(String(row))
        }
        story.line("and announces the code's nonce to the gateway through its own tunnel (pairingOffer)")

        story.step("alice's app scans the code and posts it (POST /v1/pairings)")
        var binding: PumpBinding?
        for _ in 0..<300 where binding == nil {
            do {
                binding = try await commands.pair(
                    body: try JSONSerialization.data(withJSONObject: ["code": code.text]),
                    authorization: tokens["alice"]
                )
            } catch let error as ChangeAPIError where error.reason == "pairing_code_not_offered" {
                try await Task.sleep(for: .milliseconds(10))  // the offer is on its way through the phone
            }
        }
        let bound = try story.require(binding, "alice could not pair \(serial)")
        story.line(
            "\(serial) paired to \(bound.patientID) (phone \(bound.phoneID ?? "none")), audited (pump.paired) at "
                + "index \(bound.auditIndex), with the nonce's hash only"
        )
        let replay = await Self.refusal {
            try await commands.pair(
                body: try JSONSerialization.data(withJSONObject: ["code": code.text]),
                authorization: tokens["alice"]
            )
        }
        try story.expect(
            replay?.reason == "pairing_code_used",
            "a replayed code was not refused: \(String(describing: replay))"
        )
        story.line("the same code posted again: refused (\(replay?.status ?? 0) \(replay?.reason ?? ""))")
    }

    /// drjones tries to set the therapy of a pump no one paired.
    func tellUnpairedRefusal(_ story: DemoStory, commands: CommandPipeline, tokens: [String: String]) async throws {
        story.step("drjones tries to set the therapy of PUMP-0002, which no patient has paired")
        let refused = await Self.refusal {
            try await commands.setTherapy(
                serial: "PUMP-0002",
                body: DemoTherapy.document,
                authorization: tokens["drjones"]
            )
        }
        try story.expect(
            refused?.reason == "pump_not_paired",
            "PUMP-0002's therapy was not refused: \(String(describing: refused))"
        )
        story.line("refused: \(refused?.status ?? 0) \(refused?.reason ?? "") (therapy only for paired pumps)")
    }

    static func refusal<T>(_ body: () async throws -> T) async -> ChangeAPIError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error as? ChangeAPIError
        }
    }
}

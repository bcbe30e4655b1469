import Foundation
import MedTunnelTestSupport
import Testing

/// The whole system as processes with every device key born on its device: the gateway's
/// folder never holds a pump's (or phone's) private key, and a signed command still goes through.
@Suite("key custody: gateway, relay and pump-sim as processes", .offThePool)
struct KeyCustodyProcessTests {
    /// The private keys under `folder` (files named *.key or holding a PEM private key), relative.
    static func privateKeys(under folder: String) throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: folder).filter { path in
            var isDirectory: ObjCBool = false
            let full = folder + "/" + path
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue
            else { return false }
            let text = (try? String(contentsOfFile: full, encoding: .utf8)) ?? ""
            return path.hasSuffix(".key") || text.contains("PRIVATE KEY-----")
        }.sorted()
    }

    @Test(
        "the gateway never reads a pump private key: pump and phone keys only in their own folders, the gateway folder holds gateway.key and command.key only, and a bolus is applied and acknowledged"
    )
    func gatewayNeverHoldsDeviceKeys() async throws {
        let setup = try ChangeProcessTests.Setup()
        let tmp = setup.tmp
        let pumpState = tmp.sub("pump-own")
        let phoneState = tmp.sub("phone-own")
        try ProcessHarness.enrollPump(
            "PUMP-0001",
            pki: setup.pki,
            stateDir: pumpState,
            model: "Example 0.05 U pump",
            firmware: "medtunnel-sim-1"
        )
        try ProcessHarness.enrollPhone("PHONE-1", pki: setup.pki, stateDir: phoneState)
        let gatewayFolder = setup.pki + "/gateway"
        #expect(try Self.privateKeys(under: gatewayFolder) == ["command.key", "gateway.key"])

        let (gateway, api) = try setup.startGateway(name: "gateway")
        defer { gateway.stop() }
        let relays = try gateway.waitForLine(containing: "listening for relays")
        let relay = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "relay", "--state-dir", phoneState, "--phone-id", "PHONE-1", "--gateway",
                "127.0.0.1:\(relays.split(separator: ":").last ?? "")", "--listen", "127.0.0.1:0",
            ],
            in: tmp.url,
            name: "relay"
        )
        defer { relay.stop() }
        let relayAddress = String(
            try relay.waitForLine(containing: "relay: listening for pumps on").split(separator: " ").last ?? ""
        )
        // pump-sim with nothing but its own folder: no PKI option at all.
        let pump = try BackgroundProcess(
            ProcessHarness.medtunnel,
            [
                "pump-sim", "--state-dir", pumpState, "--serial", "PUMP-0001", "--connect", relayAddress,
                "--telemetry", "1200", "--interval", "50", "--pump-model",
                ChangeProcessTests.examples.appendingPathComponent("pump-model.json").path, "--initial-settings",
                ChangeProcessTests.examples.appendingPathComponent("settings.json").path, "--pairing-payload",
                pumpState + "/pairing-code.txt",
            ],
            in: tmp.url,
            name: "pump"
        )
        defer { pump.stop() }
        _ = try pump.waitForLine(containing: "last applied sequence 0")
        // alice pairs it with the code it shows; drsmith sets its therapy.
        try await setup.pair(api, pumpState: pumpState)
        try await setup.setTherapy(api)
        try await api.waitForTelemetry(token: setup.tokens["drsmith"]!)

        let (created, bolus) = try await api.submit(
            "{\"kind\": \"bolus\", \"milliunits\": 2000}",
            token: setup.tokens["alice"]!
        )
        #expect(created == 201, "\(bolus)")
        let id = try #require(bolus["id"] as? String)
        let applied = try await api.settled(id, token: setup.tokens["alice"]!)
        #expect(applied["state"] as? String == "applied", "\(applied)\n\(gateway.stderr)")
        #expect(!gateway.stderr.contains("pump_model_mismatch"), "\(gateway.stderr)")

        // After a whole session: still no device key anywhere in the PKI, each where it was born.
        #expect(try Self.privateKeys(under: gatewayFolder) == ["command.key", "gateway.key"])
        #expect(try Self.privateKeys(under: setup.pki) == ["ca/ca.key", "gateway/command.key", "gateway/gateway.key"])
        #expect(try Self.privateKeys(under: pumpState) == ["PUMP-0001.key"])
        #expect(try Self.privateKeys(under: phoneState) == ["PHONE-1.key"])
    }
}

import Foundation
import MedTunnelTestSupport
import Testing

/// `medtunnel pump-sim --pairing`'s refusals of options that cannot work (the code itself is
/// tested end to end in ChangeProcessTests and RelayTests' PairingPathTests).
@Suite("pump-sim --pairing options", .offThePool)
struct PumpSimPairingTests {
    @Test(
        "--pairing needs --state-dir (like every pump: the device key that signs lives there); a fleet writes only text"
    )
    func refusals() throws {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        let noState = try ProcessHarness.medtunnel([
            "pump-sim", "--enroll-with", pki, "--serial", "PUMP-0001", "--connect", "127.0.0.1:1", "--pairing",
        ])
        #expect(noState.status != 0 && noState.stderr.contains("give --state-dir DIR"), "\(noState.stderr)")
        let fleetPNG = try ProcessHarness.medtunnel([
            "pump-sim", "--enroll-with", pki, "--count", "2", "--connect", "127.0.0.1:1", "--state-dir",
            tmp.sub("state"), "--pairing-png", tmp.sub("x.png"),
        ])
        #expect(fleetPNG.status != 0 && fleetPNG.stderr.contains("--pairing-payload DIR"), "\(fleetPNG.stderr)")
    }
}

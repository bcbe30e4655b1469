import Foundation
import MedTunnelTestSupport
import Testing

/// The pump core as Cortex-M4 firmware (firmware-profile/): built from the very Sources/ files
/// pump-sim runs, run in QEMU with its UART on the real relay's pump port, against the real
/// gateway. tools/setup installs the ARM toolchain and QEMU, so a missing tool fails the test
/// (the build and the script name what is missing) instead of skipping it.
@Suite("Firmware: the pump core on an emulated Cortex-M4 through the real relay and gateway")
struct FirmwareDemoTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("firmware-profile/build then run-demo: handshake, telemetry, bolus applied and audited, resumption, lockout")
    func story() throws {
        let build = try ChildProcess.run(
            Self.repository.appendingPathComponent("firmware-profile/build").path,
            [],
            timeout: 900
        )
        #expect(build.status == 0, "\(build.stdout)\n\(build.stderr)")
        #expect(build.stdout.contains("## Flash by component"), "\(build.stdout)")
        guard build.status == 0 else { return }

        let run = try ChildProcess.run(
            Self.repository.appendingPathComponent("firmware-profile/run-demo").path,
            [],
            timeout: 600,
            environment: ["MEDTUNNEL_BIN": ProcessHarness.medtunnel]
        )
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        for line in [
            "firmware: session 1 established: full handshake",
            "firmware: session 1: telemetry 1 stored by the gateway",
            "verified and persisted to flash: applied, acknowledged",
            "audited: the bolus acknowledged 'applied'",
            "firmware: session 2 established: resumed handshake",
            "firmware: session 2: state now: last applied",
            ", locked out",
            "run-demo: PASSED",
        ] {
            #expect(run.stdout.contains(line), "missing '\(line)' in:\n\(run.stdout)\n\(run.stderr)")
        }
    }
}

import Foundation
import MedTunnelTestSupport
import Testing

/// The pump core as Cortex-M4 firmware (firmware-profile/): built from the very Sources/ files
/// pump-sim runs, run in QEMU with its UART on the real relay's pump port, against the real
/// gateway. tools/setup installs the ARM toolchain and QEMU, so a missing tool fails the test
/// (the build and the script name what is missing) instead of skipping it.
@Suite("Firmware: the pump core on an emulated Cortex-M4 through the real relay and gateway", .offThePool)
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

        // The budgets the firmware meets today stay met: every heap peak the firmware logs
        // (handshakes, commands) and its heap high-water mark within the 24 KiB target, and flash
        // no larger than now (142.6 KiB measured; the 128 KiB target is not met yet, see
        // firmware-profile/README.md).
        let heapFigures = Self.numbers(after: ["heap peak ", "heap break "], in: run.stdout)
        #expect(heapFigures.count >= 5, "\(run.stdout)")
        for bytes in heapFigures { #expect(bytes <= 24 * 1024, "heap \(bytes) B over 24 KiB:\n\(run.stdout)") }
        let flash = Self.numbers(after: ["| **total flash (sections, incl. alignment)** | **"], in: build.stdout)
        #expect(flash.count == 1 && flash[0] <= 146 * 1024, "flash \(flash) over 146 KiB:\n\(build.stdout)")
    }

    /// The integers that follow each occurrence of any of `prefixes` in `text`.
    static func numbers(after prefixes: [String], in text: String) -> [Int] {
        var found: [Int] = []
        for prefix in prefixes {
            var rest = text[...]
            while let range = rest.range(of: prefix) {
                rest = rest[range.upperBound...]
                if let value = Int(rest.prefix { $0.isNumber }) { found.append(value) }
            }
        }
        return found
    }
}

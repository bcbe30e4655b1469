import AuditExport
import AuditLog
import Foundation
import MedTunnelTestSupport
import Testing

/// A real FHIR export, from a SQLite log holding one entry of every kind, validated by an
/// independent model of FHIR R4 4.0.1: the PyPI package fhir.resources 6.0.0, run by
/// tools/fhir-validate.py in the virtual environment tools/setup makes.
@Suite("FHIR export validated by fhir.resources (R4)", .offThePool)
struct FHIRValidationTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = repository.appendingPathComponent("tools/fhir-validate.py").path
    static let python =
        ProcessInfo.processInfo.environment["MEDTUNNEL_FHIR_PYTHON"]
        ?? (ProcessInfo.processInfo.environment["MEDTUNNEL_FHIR_VENV"] ?? "/opt/medtunnel/fhir-r4-venv") + "/bin/python"

    /// Whether the validator can run; when not, say so on stderr, since a skipped test is easy to miss.
    static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: python),
            let probe = try? ChildProcess.run(python, ["-c", "import fhir.resources"], timeout: 60), probe.status == 0
        else {
            FileHandle.standardError.write(
                Data(
                    "SKIPPING FHIR validation: \(python) cannot import fhir.resources; run tools/setup\n".utf8
                )
            )
            return false
        }
        return true
    }()

    @Test(
        "an export of one entry of every kind is a valid R4 Bundle of valid AuditEvents",
        .enabled(if: available, "fhir.resources (R4) is not installed: run tools/setup")
    )
    func everyKindValidates() async throws {
        let (directory, log) = try await ExportFixtures.logOfEveryKind()
        let exporter = AuditExporter(store: log.store, origin: "medtunnel.local/audit")
        let export = try await ExportFixtures.export(exporter, .fhir)
        let path = directory + "/export.fhir.json"
        try Data(export.bytes).write(to: URL(fileURLWithPath: path))
        let output = try ChildProcess.run(
            Self.python,
            [Self.script, path, String(ExportFixtures.allKinds.count)],
            timeout: 120
        )
        #expect(output.status == 0, "fhir-validate: \(output.stderr)")
        #expect(output.stdout.contains("of \(ExportFixtures.allKinds.count) AuditEvents"), "\(output.stdout)")
    }

    @Test(
        "the validator is not a rubber stamp: it refuses an AuditEvent without its required agent.requestor",
        .enabled(if: available, "fhir.resources (R4) is not installed: run tools/setup")
    )
    func validatorRefusesBrokenEvent() async throws {
        let (directory, log) = try await ExportFixtures.logOfEveryKind()
        let export = try await ExportFixtures.export(AuditExporter(store: log.store, origin: "o"), .fhir)
        let broken = String(decoding: export.bytes, as: UTF8.self).replacingOccurrences(
            of: "\"requestor\":true,",
            with: ""
        )
        #expect(broken.utf8.count < export.bytes.count)
        let path = directory + "/broken.fhir.json"
        try Data(broken.utf8).write(to: URL(fileURLWithPath: path))
        let output = try ChildProcess.run(Self.python, [Self.script, path], timeout: 120)
        #expect(output.status == 1)
        #expect(output.stderr.contains("requestor"), "\(output.stderr)")
    }
}

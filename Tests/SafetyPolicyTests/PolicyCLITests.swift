import Foundation
import MedTunnelTestSupport
import Testing

/// Runs the built `medtunnel` binary on the shipped examples and checks exit codes and
/// JSON output. The binary is found in the build products directory of this test bundle.
@Suite("medtunnel policy evaluate", .offThePool)
struct PolicyCLITests {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String

        var decision: String? { json?["decision"] as? String }
        var codes: [String] { (json?["reasons"] as? [[String: String]])?.compactMap { $0["code"] } ?? [] }

        private var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]
        }
    }

    /// The directory holding `medtunnel`: walk up from the test bundle / test executable.
    static func binary() throws -> URL {
        var starts = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])]
        starts += Bundle.allBundles.map(\.bundleURL)
        for start in starts {
            var directory = start.standardizedFileURL
            for _ in 0..<6 {
                let candidate = directory.appendingPathComponent("medtunnel")
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory),
                    !isDirectory.boolValue,
                    FileManager.default.isExecutableFile(atPath: candidate.path)
                {
                    return candidate
                }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw CLIError(message: "medtunnel not found near \(starts); run `swift build --build-tests` first")
    }

    struct CLIError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    static func run(_ arguments: [String]) throws -> Run {
        let output = try ChildProcess.run(try binary().path, ["policy", "evaluate"] + arguments)
        return Run(status: output.status, stdout: output.stdout, stderr: output.stderr)
    }

    static func evaluate(actor: String, change: String, extra: [String] = []) throws -> Run {
        try run(
            [
                "--model", ExampleFiles.path("pump-model.json"),
                "--prescription", ExampleFiles.path("prescription.json"),
                "--settings", ExampleFiles.path("settings.json"),
                "--history", ExampleFiles.path("history.json"),
                "--actor", "@" + ExampleFiles.path("actor-\(actor).json"),
                "--change", "@" + ExampleFiles.path("change-\(change).json"),
                "--now", "2026-11-21T08:00:00Z",
            ] + extra
        )
    }

    @Test(
        "shipped examples",
        arguments: [
            ("patient", "bolus", 0, "accept", []),
            ("patient", "bolus-off-step", 4, "reject", ["pump_increment_mismatch"]),
            ("patient", "bolus-hourly-total", 4, "reject", ["bolus_hourly_total_exceeded"]),
            (
                "patient", "temp-basal-above-max", 4, "reject",
                ["max_basal_exceeded", "prescription_max_basal_exceeded"]
            ),
            ("patient", "basal-raise", 3, "needs_approval", ["basal_schedule_raise"]),
            ("clinician", "carb-ratio", 0, "accept", []),
            ("clinician", "bolus", 4, "reject", ["control_not_permitted"]),
            ("operator", "bolus", 4, "reject", ["not_authorized"]),
        ] as [(String, String, Int32, String, [String])]
    )
    func examples(actor: String, change: String, status: Int32, decision: String, codes: [String]) throws {
        let result = try Self.evaluate(actor: actor, change: change)
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.decision == decision, "\(result.stdout)")
        #expect(result.codes == codes, "\(result.stdout)")
    }

    @Test(
        "shipped pump states (--pump-state)",
        arguments: [
            ("ok", 0, "accept", []),
            ("suspended", 4, "reject", ["pump_suspended"]),
            ("low-glucose", 4, "reject", ["glucose_below_suspend_threshold"]),
            ("reservoir-low", 4, "reject", ["reservoir_insufficient"]),
            ("stale-glucose", 3, "needs_approval", ["glucose_unknown"]),
        ] as [(String, Int32, String, [String])]
    )
    func pumpStates(state: String, status: Int32, decision: String, codes: [String]) throws {
        let result = try Self.evaluate(
            actor: "patient",
            change: "bolus",
            extra: ["--pump-state", ExampleFiles.path("pump-state-\(state).json")]
        )
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.decision == decision, "\(result.stdout)")
        #expect(result.codes == codes, "\(result.stdout)")
    }

    @Test func lockoutRejects() throws {
        let result = try Self.evaluate(actor: "patient", change: "bolus", extra: ["--lockout", "incident 7"])
        #expect(result.status == 4)
        #expect(result.codes == ["pump_locked_out"])
    }

    @Test func misspeltFieldIsBadInputNamingTheField() throws {
        let result = try Self.evaluate(actor: "patient", change: "misspelt")
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("--change"))
        #expect(result.stderr.contains("'milliunit'"))
        #expect(result.stderr.contains("unknown_field"))
    }

    @Test func inlineJSONIsAccepted() throws {
        let result = try Self.run([
            "--model", ExampleFiles.path("pump-model.json"),
            "--prescription", ExampleFiles.path("prescription.json"),
            "--settings", ExampleFiles.path("settings.json"),
            "--history", ExampleFiles.path("history.json"),
            "--actor", #"{"id":"u1","role":"caregiver","authenticated":true,"patientIds":["patient-001"]}"#,
            "--change", #"{"kind":"suspend"}"#,
            "--now", "2026-11-21T08:00:00Z",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.decision == "accept")
    }

    @Test(
        "bad input exits 2 and names the option",
        arguments: [
            (["--now", "tomorrow"], "--now"),
            (["--change", #"{"kind":"bolus","milliunits":-5}"#], "milliunits"),
            (["--model", "/nonexistent/model.json"], "--model"),
        ] as [([String], String)]
    )
    func badInput(override: [String], named: String) throws {
        var arguments: [String: String] = [
            "--model": ExampleFiles.path("pump-model.json"),
            "--prescription": ExampleFiles.path("prescription.json"),
            "--settings": ExampleFiles.path("settings.json"),
            "--history": ExampleFiles.path("history.json"),
            "--actor": "@" + ExampleFiles.path("actor-patient.json"),
            "--change": "@" + ExampleFiles.path("change-bolus.json"),
            "--now": "2026-11-21T08:00:00Z",
        ]
        arguments[override[0]] = override[1]
        let result = try Self.run(arguments.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] })
        #expect(result.status == 2)
        #expect(result.stderr.contains(named), "\(result.stderr)")
    }

    @Test func missingOptionIsBadInput() throws {
        let result = try Self.run(["--model", ExampleFiles.path("pump-model.json")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--prescription"))
    }
}

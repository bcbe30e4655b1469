import ArgumentParser
import Foundation
import SafetyPolicy
import TherapyJSON
import TherapyModel

/// `medtunnel policy evaluate`: decides one change and prints the decision as JSON.
///
/// Exit status: 0 accept, 3 needs approval, 4 reject, 2 bad input (the message names
/// the option and the field).
struct PolicyEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Decide whether a setting change may go to a pump.",
        discussion: """
            Prints {"decision": "accept"|"needs_approval"|"reject", "reasons": [{"code", "message"}]}.
            Exit status: 0 accept, 3 needs approval, 4 reject, 2 bad input.
            --actor and --change take inline JSON, or @FILE to read the JSON from a file.
            See Examples/policy/README.md for the formats.
            """
    )

    static let acceptStatus: Int32 = 0
    static let needsApprovalStatus: Int32 = 3
    static let rejectStatus: Int32 = 4
    static let badInputStatus: Int32 = 2

    // Options are optional so that a missing one is reported as bad input (exit 2) naming
    // the option, instead of as an argument-parser usage error.
    @Option(help: ArgumentHelp("Pump model JSON file (required).", valueName: "file")) var model: String?
    @Option(help: ArgumentHelp("Prescription JSON file (required).", valueName: "file")) var prescription: String?
    @Option(help: ArgumentHelp("Current therapy settings JSON file (required).", valueName: "file")) var settings:
        String?
    @Option(help: ArgumentHelp("Delivery history JSON file (required).", valueName: "file")) var history: String?
    @Option(help: ArgumentHelp("Requesting actor: inline JSON or @file (required).", valueName: "json")) var actor:
        String?
    @Option(help: ArgumentHelp("Requested change: inline JSON or @file (required).", valueName: "json")) var change:
        String?
    @Option(help: ArgumentHelp("Evaluation time, ISO 8601 (default: the current time).", valueName: "time")) var now:
        String?
    @Option(help: ArgumentHelp("Treat the pump as locked out, with this reason.", valueName: "reason")) var lockout:
        String?
    @Option(
        name: .customLong("pump-state"),
        help: ArgumentHelp(
            "What the pump reported about itself (suspended, reservoir, glucose, each with its time), JSON file; "
                + "without it the clinical-state rules are not run.",
            valueName: "file"
        )
    )
    var pumpState: String?

    func run() throws {
        let request: PolicyInput
        do {
            request = try PolicyInput.load(from: self)
        } catch {
            FileHandle.standardError.write(Data("medtunnel policy evaluate: bad input: \(error)\n".utf8))
            throw ExitCode(Self.badInputStatus)
        }
        let decision = TherapyPolicy.evaluate(request.change, by: request.actor, context: request.context)
        FileHandle.standardOutput.write(TherapyJSON.encode(decision) + Data("\n".utf8))
        switch decision {
        case .accept: return
        case .needsApproval: throw ExitCode(Self.needsApprovalStatus)
        case .reject: throw ExitCode(Self.rejectStatus)
        }
    }
}

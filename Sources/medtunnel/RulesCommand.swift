import AnomalyRules
import ArgumentParser
import Foundation

/// `medtunnel rules show`: the anomaly rules the gateway runs (built in, or a file checked).
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Show or check the anomaly rules over security events.",
        subcommands: [Show.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the built-in rules (a rules file to start from), or check and print a rules file."
        )
        @Option(help: "A rules file to check (as `gateway --rules FILE` reads it).") var rules: String?

        func run() throws {
            if self.rules == nil {
                Console.out(RuleSet.defaultText.trimmingCharacters(in: .newlines))
            } else {
                Console.out(try RulesCommand.load(self.rules).text.trimmingCharacters(in: .newlines))
            }
        }
    }

    /// The rules of `path`, or the built-in ones; a malformed file is an error naming its line.
    static func load(_ path: String?) throws -> RuleSet {
        guard let path else { return .defaults }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read the rules file \(path): \(FileText.problem(path))")
        }
        do {
            return try RuleSet(parsing: text, file: path)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

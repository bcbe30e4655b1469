import ArgumentParser
import Foundation
import MedTunnelConfig

/// `medtunnel config check FILE`: the settings a command would run with, validated without
/// starting anything.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check a configuration file for gateway, relay or witness.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate FILE with the environment's MEDTUNNEL_<COMMAND>_<OPTION> variables, without starting.",
            discussion: """
                Exit 0 and the effective settings, each with where it came from (secrets are never \
                printed: secret files by path only); exit 2 naming each bad key with its line, each bad \
                variable and each option the command would refuse.
                """
        )

        @Argument(help: ArgumentHelp("The JSON configuration file.", valueName: "file"))
        var file: String

        @Option(help: "The command the file configures: gateway, relay or witness.")
        var command = "gateway"

        func validate() throws {
            guard ConfigurableCommand.named(self.command) != nil else {
                throw ValidationError("--command '\(self.command)': expected gateway, relay or witness")
            }
        }

        func run() async throws {
            guard let command = ConfigurableCommand.named(self.command) else { throw ExitCode(2) }
            let resolution: ConfigResolution
            do {
                resolution = try ConfigLayers.resolve(
                    command,
                    arguments: [],
                    environment: ProcessInfo.processInfo.environment,
                    file: self.file
                )
            } catch {
                for problem in error.problems { Console.err("config check: \(problem)") }
                throw ExitCode(2)
            }
            // The command's own parser and checks (missing options, TLS on a remote API, …), as at
            // start, but nothing is opened or bound.
            let arguments = Array(resolution.arguments.dropFirst(command.words.count))
            if let problem = Self.refusal(command, arguments) {
                Console.err("config check: \(self.file): \(problem)")
                throw ExitCode(2)
            }
            Console.out(resolution.summary())
            Console.out("config check: \(self.file) is valid for `medtunnel \(command.name)`")
        }

        /// What the command's parser says about these arguments, nil if it accepts them.
        static func refusal(_ command: ConfigurableCommand, _ arguments: [String]) -> String? {
            do {
                switch command.name {
                case "gateway": _ = try GatewayCommand.parse(arguments)
                case "relay": _ = try RelayCommand.parse(arguments)
                default: _ = try WitnessCommand.Run.parse(arguments)
                }
                return nil
            } catch {
                return GatewayCommand.message(for: error)
            }
        }
    }
}

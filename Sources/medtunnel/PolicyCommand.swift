import ArgumentParser

/// `medtunnel policy …`: the gateway's safety policy, from the command line.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check pump setting changes against the safety policy.",
        subcommands: [PolicyEvaluateCommand.self]
    )
}

import ArgumentParser

struct PumpSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pump-sim", abstract: "(not yet implemented)")
}

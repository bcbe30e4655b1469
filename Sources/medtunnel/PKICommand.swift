import ArgumentParser

struct PKICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pki", abstract: "(not yet implemented)")
}

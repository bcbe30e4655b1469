import ArgumentParser

@main
struct MedTunnel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medtunnel",
        abstract: "Secure relay gateway for connected insulin pumps.",
        subcommands: [
            PKICommand.self,
            GatewayCommand.self,
            RelayCommand.self,
            PumpSimCommand.self,
            DemoCommand.self,
            PolicyCommand.self,
            AuditCommand.self,
            UserCommand.self,
            TokenCommand.self,
            LockoutCommand.self,
            RulesCommand.self,
            WitnessCommand.self,
        ]
    )
}

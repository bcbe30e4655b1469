import ArgumentParser

@main
struct MedTunnel: AsyncParsableCommand {
    /// This build's version, in `--version` and in every backup's manifest.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "medtunnel",
        abstract: "Secure relay gateway for connected insulin pumps.",
        version: MedTunnel.version,
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
            BackupCommand.self,
            RestoreCommand.self,
        ]
    )
}

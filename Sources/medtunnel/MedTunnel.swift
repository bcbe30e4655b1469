import ArgumentParser
import AuditLog
import AuditPostgres
import ChangeRequests
import Foundation
import Lockouts
import LogFormat
import MedTunnelConfig
import SecurityEvents
import StoresPostgres
import TelemetryStore

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
            ConfigCommand.self,
            BackupCommand.self,
            RestoreCommand.self,
            DatabaseCommand.self,
        ]
    )

    /// Before parsing: `gateway`, `relay` and `witness` take the options their command line does
    /// not give from MEDTUNNEL_<COMMAND>_<OPTION> variables and the --config file
    /// (docs/configuration.md). A bad file or variable stops here, exit 2, naming each.
    static func main() async {
        // Once, before any command runs: a state directory bound to a database
        // (`medtunnel db attach`) has its log opened there by every command and the gateway.
        // Writers may migrate it; readers only open it.
        AuditStoreFactories.remote = { url, create in try await PostgresAuditStore(url: url, migrate: create) }
        ChangeStoreFactories.shared = { url, audit in try await PostgresSharedDatabase.store(url: url, audit: audit) }
        SharedDatabases.connect = { url in try await PostgresSharedDatabase.connect(url: url) }
        LockoutStoreFactories.shared = { url, audit in
            try await PostgresSharedDatabase.lockoutStore(url: url, audit: audit)
        }
        SecurityEventStoreFactories.shared = { url, audit in
            try await PostgresSharedDatabase.securityEventStore(url: url, audit: audit)
        }
        TelemetryStoreFactories.shared = { url in try await PostgresSharedDatabase.telemetryStore(url: url) }
        let arguments: [String]
        do {
            arguments = try ConfigLayers.commandLine(
                Array(CommandLine.arguments.dropFirst()),
                environment: ProcessInfo.processInfo.environment
            )
        } catch {
            for problem in error.problems { Console.err("Error: \(problem)") }
            Foundation.exit(2)
        }
        do {
            var command = try Self.parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            Self.exitReporting(error)
        }
    }

    /// ArgumentParser's own exit (usage, help, `Error: …`), except that a command which already
    /// chose `--log-format json` reports a failure as one JSON record on stderr, like its other
    /// lines, so a collector parsing the stream line by line also gets why it stopped.
    static func exitReporting(_ error: any Error) -> Never {
        let code = Self.exitCode(for: error)
        guard LogFormat.current == .json, code != .success else { Self.exit(withError: error) }
        LogFormat.announce(
            "Error: \(Self.message(for: error))",
            label: "medtunnel",
            level: .critical,
            stream: .standardError
        )
        Foundation.exit(code.rawValue)
    }
}

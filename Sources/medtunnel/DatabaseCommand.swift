import ArgumentParser
import AuditLog
import AuditPostgres
import Foundation

/// `medtunnel db`: the PostgreSQL database's schema (docs/postgres.md). Only the audit log lives
/// there in this release; SQLite state directories need no command (their schema is made on open).
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Migrate a PostgreSQL database, show its schema version, attach a state directory's audit log to it.",
        subcommands: [Migrate.self, Status.self, Attach.self]
    )

    /// The option both subcommands take; the URL is printed only without its password.
    struct Location: ParsableArguments {
        @Option(
            help: ArgumentHelp(
                "The PostgreSQL database.",
                valueName: "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            )
        )
        var database: String
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the migrations this binary has and the database lacks (refuses a newer database).",
            discussion: """
                Safe to run again and from several nodes at once: migrations run in one transaction \
                under a lock. Exits 3 when the database is unreachable or newer than this binary.
                """
        )

        @OptionGroup var location: Location

        func run() async throws {
            try await reportingAuditErrors(command: "db") {
                let url = try PostgresURL(self.location.database)
                let result = try await PostgresAuditStore.migrate(url: self.location.database)
                if result.from == result.to {
                    Console.out("\(url): schema already at version \(result.to)")
                } else {
                    Console.out("\(url): migrated from version \(result.from) to \(result.to)")
                }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the database's schema version beside this binary's, and the audit log's size.",
            discussion: "Changes nothing. Exits 3 when the database is unreachable."
        )

        @OptionGroup var location: Location

        func run() async throws {
            try await reportingAuditErrors(command: "db") {
                let url = try PostgresURL(self.location.database)
                let status = try await PostgresAuditStore.status(url: self.location.database)
                Console.out("database: \(url)")
                Console.out("schema version: \(status.databaseVersion) (this binary: \(status.binaryVersion))")
                switch status.databaseVersion {
                case 0:
                    Console.out("state: not migrated; run medtunnel db migrate --database \(url)")
                case ..<status.binaryVersion:
                    Console.out("state: older than this binary; run medtunnel db migrate --database \(url)")
                case status.binaryVersion:
                    Console.out("state: current")
                default:
                    Console.out("state: newer than this binary; run the medtunnel that migrated it, or a later one")
                }
                if let entries = status.entries, let checkpoints = status.checkpoints {
                    Console.out("entries: \(entries)")
                    Console.out("checkpoints: \(checkpoints)")
                }
            }
        }
    }
}

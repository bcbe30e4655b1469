import ArgumentParser
import AuditLog
import AuditWitness
import Foundation
import LogFormat
import Logging

/// `medtunnel witness`: a witness of the gateway's audit log that runs as its own process, with
/// its own key and state, so the log no longer vouches only for itself (docs/witness.md).
struct WitnessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witness",
        abstract: "Follow the audit log's checkpoints, refuse rollbacks and forks, cosign the rest.",
        subcommands: [Run.self, Keygen.self],
        defaultSubcommand: Run.self
    )

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the witness's Ed25519 key (mode 0600) and print its vkey for verifiers to pin."
        )

        @Option(help: "Where to write the key; an existing file is never replaced.")
        var key: String

        @Option(help: "The witness name in its cosignature lines (a schema-less URL).")
        var name: String = "medtunnel.local/witness"

        func run() async throws {
            try reportingWitnessErrors {
                let cosigner = try Cosigner.generate(name: self.name, path: self.key)
                Console.out(cosigner.verifier.verifierKey)
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Poll the log and cosign (the default subcommand).",
            discussion: """
                Exits 2 with an ALERT line on stderr when the log is caught rolling back or forking; \
                the refusal is kept in the state file and the witness refuses to cosign that log again \
                (and to start for it) until an operator removes the origin's record. Other failures \
                (unreachable log, bad signature) print a line and the witness polls again.
                """
        )

        @Option(help: "The log: the gateway's operator API (http://host:port) or a state directory on this host.")
        var log: String

        @Option(name: .customLong("log-key"), help: "A file holding the log's verifier key (or the key itself).")
        var logKey: String

        @Option(help: "The witness key file (`medtunnel witness keygen`).")
        var key: String

        @Option(help: "The witness state file (created on first use).")
        var state: String

        @Option(help: ArgumentHelp("How often to poll: 10s, 500ms, 1m.", valueName: "duration"))
        var interval: String = "10s"

        @Option(help: "The log's origin (default: the log key's name).")
        var origin: String?

        @Option(
            help: "A bearer token for the operator API; or MEDTUNNEL_WITNESS_TOKEN (or MEDTUNNEL_TOKEN). Never printed."
        )
        var token: String?

        @Flag(help: "Poll once and exit: 0 cosigned, 1 refused this time, 2 the log was caught.")
        var once = false

        @OptionGroup var configFile: ConfigFileOption

        @Option(name: .customLong("log-format"), help: "text, or json: one JSON object per line (docs/logging.md).")
        var logFormat: LogFormat = .text

        func validate() throws {
            _ = try durationOption("--interval", self.interval)
        }

        func run() async throws {
            _ = self.logFormat.bootstrap(label: "medtunnel.witness", level: .info)
            let interval = try durationOption("--interval", self.interval)
            let witness = try reportingWitnessErrors { try self.makeWitness() }
            while true {
                let now = UInt64(Date().timeIntervalSince1970)
                let outcome = await witness.poll(now: now)
                switch outcome {
                case .cosigned(let checkpoint, _):
                    Self.line("witness: cosigned \(checkpoint.origin) size \(checkpoint.size) at \(now)", .info)
                    if self.once { return }
                case .halted(let error):
                    Self.line("ALERT witness: \(error.reason); the refusal is recorded in \(self.state)", .critical)
                    throw ExitCode(2)
                case .refused(let error) where error.code == .halted:
                    Self.line("ALERT witness: \(error.reason)", .critical)
                    throw ExitCode(2)
                case .refused(let error):
                    Self.line("witness: nothing cosigned: \(error.reason) [\(error.code)]", .warning)
                    if self.once { throw ExitCode(1) }
                }
                try await Task.sleep(for: interval)
            }
        }

        /// One line of the witness's story: a cosignature on stdout, refusals and alerts on stderr;
        /// each a JSON record under `--log-format json`.
        static func line(_ text: String, _ level: Logger.Level) {
            LogFormat.announce(
                text,
                label: "medtunnel.witness",
                level: level,
                stream: level == .info ? .standardOutput : .standardError
            )
        }

        private func makeWitness() throws -> LogWitness {
            let keyText =
                try FileManager.default.fileExists(atPath: self.logKey)
                ? String(contentsOfFile: self.logKey, encoding: .utf8) : self.logKey
            let logKey: NoteVerifier
            do {
                logKey = try NoteVerifier(verifierKey: keyText.trimmingCharacters(in: .whitespacesAndNewlines))
            } catch let error as AuditLogError {
                throw WitnessError(.invalidKey, "--log-key: \(error.reason)")
            }
            let client: WitnessLogClient
            if self.log.hasPrefix("http://") || self.log.hasPrefix("https://") {
                guard let base = URL(string: self.log), base.host != nil else {
                    throw ValidationError("--log '\(self.log)' is not an http:// or https:// URL")
                }
                client = .http(base: base, token: self.token ?? ProcessInfo.processInfo.environment["MEDTUNNEL_TOKEN"])
            } else {
                client = .directory(self.log)
            }
            return LogWitness(
                origin: self.origin ?? logKey.name,
                logKey: logKey,
                cosigner: try Cosigner.load(path: self.key),
                statePath: self.state,
                client: client
            )
        }
    }
}

/// Runs `body`, reporting a `WitnessError` as one line and exit status 1.
@discardableResult
func reportingWitnessErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as WitnessError {
        LogFormat.announce(
            "witness: \(error.reason) [\(error.code)]",
            label: "medtunnel.witness",
            level: .error,
            stream: .standardError
        )
        throw ExitCode(1)
    }
}

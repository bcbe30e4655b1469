import AnomalyRules
import ArgumentParser
import AuditLog
import ConsoleAuth
import Foundation
import Gateway
import Passkeys

/// `--console` and `--console-origin` of `medtunnel gateway`: the web console's passkey sign-in
/// under /console on the operator API's listener (docs/console-auth.md).
struct ConsoleOptions: ParsableArguments {
    @Flag(
        name: .customLong("console"),
        help: "Serve the web console's passkey sign-in under /console on the operator API's listener."
    )
    var enabled = false

    @Option(
        name: .customLong("console-origin"),
        help: ArgumentHelp(
            """
            The origin browsers use for the console, e.g. https://console.example.org; its host is \
            the WebAuthn rpID. Default: http://HOST:PORT of --api-listen, with localhost for a \
            loopback address (an IP address cannot be an rpID).
            """,
            valueName: "url"
        )
    )
    var origin: String?

    @Option(
        name: .customLong("console-step-up-window"),
        help: ArgumentHelp(
            "How recent a passkey assertion must be to approve a change, prescribe or start or lift a lockout in the console (30s, 5m).",
            valueName: "duration"
        )
    )
    var stepUpWindow = "5m"

    func validate() throws {
        _ = try durationOption(
            "--console-step-up-window",
            stepUpWindow,
            within: .seconds(1)...(.seconds(3600)),
            said: "from 1s to 1h"
        )
        if let origin {
            guard enabled else { throw ValidationError("--console-origin needs --console") }
            do {
                _ = try RelyingParty(origin: origin)
            } catch let error as PasskeyError {
                throw ValidationError("--console-origin: \(error.reason)")
            }
        }
    }

    /// The console over the gateway's state, or nil without --console. Its relying party is
    /// set now from --console-origin, or once the listener's port is known (``bind(_:originGiven:port:)``).
    func open(stateDirectory: String, audit: AuditLog, api: HostPort, tls: Bool) async throws -> ConsoleAuth? {
        guard enabled else { return nil }
        guard origin != nil || Self.isLoopback(api.host) else {
            throw ValidationError(
                "--console on \(api.host) needs --console-origin https://NAME[:PORT]: browsers allow WebAuthn over "
                    + "plain http only on localhost"
            )
        }
        let relyingParty = try origin.map { try RelyingParty(origin: $0) }
        return try await ConsoleAuth.open(
            stateDirectory: stateDirectory,
            audit: audit,
            configuration: .init(
                relyingParty: relyingParty,
                secureCookie: tls,
                stepUpWindowMilliseconds: RuleDuration.parse(Substring(stepUpWindow))
                    ?? ConsoleSessions.stepUpWindowMilliseconds
            )
        )
    }

    /// Sets the default origin from the bound port when --console-origin was not given.
    static func bind(_ console: ConsoleAuth?, originGiven: Bool, scheme: String, port: Int) throws {
        guard let console else { return }
        if !originGiven {
            console.bind(try RelyingParty(origin: "\(scheme)://localhost:\(port)"))
        }
        if let relyingParty = console.relyingParty {
            announce("gateway: console on \(relyingParty.origin)/console/signin")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

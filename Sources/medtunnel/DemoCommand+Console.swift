import AccessTokens
import AuditLog
import CommandPipeline
import Console
import ConsoleAuth
import Dispatch
import Foundation
import Gateway
import Logging
import OperatorAPI
import PasskeyStore
import Passkeys
import Prometheus

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension DemoCommand {
    /// The operators' web console on loopback: its URL and a one-time passkey invitation for each
    /// console user. Without `--keep` the demo checks the sign-in page answers and moves on; with
    /// it, the console stays up (with everything the story left behind) until Ctrl-C.
    func tellConsole(
        _ story: DemoStory,
        gateway: GatewayServer,
        commands: CommandPipeline,
        root: String,
        logger: Logger
    ) async throws {
        story.step("The operators' web console: passkey sign-in, pumps, the approval inbox, the audit trail")
        let state = root + "/state"
        let auth = try await ConsoleAuth.open(
            stateDirectory: state,
            audit: commands.audit,
            configuration: .init(relyingParty: nil, secureCookie: false)
        )
        let reads = AccessReadLog(audit: commands.audit, logger: logger)
        var api = OperatorAPI(
            gateway: gateway,
            prometheus: PrometheusCollectorRegistry(),
            access: APIAccess(pipeline: commands, reads: reads)
        )
        api.console = auth
        let pages = try ConsoleRoutes(api: api, pipeline: commands, signIn: PasskeySignIn(auth: auth))
        api.routeExtensions.append { router in pages.register(on: router) }
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let application = api.application(host: "127.0.0.1", port: self.consolePort, logger: logger) { port in
            portSink.yield(port)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.run() }
            group.addTask { try await reads.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try story.require(await iterator.next(), "the console did not start")
            let origin = "http://localhost:\(port)"
            auth.bind(try RelyingParty(origin: origin))

            let (status, landed) = try await Self.status(origin + "/console")
            try story.expect(
                status == 200 && landed.hasPrefix(origin + "/console/signin"),
                "GET /console without a session: \(status) at \(landed)"
            )
            let (signIn, _) = try await Self.status(origin + "/console/signin")
            try story.expect(signIn == 200, "GET /console/signin: \(signIn)")
            story.line("console: \(origin)/console (a page without a session goes to \(origin)/console/signin)")

            let store = try PasskeyStore.open(stateDirectory: state)
            let admin = try AuditActor(id: "demo-admin", role: "admin")
            for user in ["olga", "drjones", "ines", "ivan"] {
                let (token, _, _) = try await UserCommand.issueInvitation(
                    to: user,
                    store: store,
                    audit: commands.audit,
                    by: admin
                )
                story.line("\(user): register a passkey once at \(origin)/console/invite/\(token)")
            }
            if self.keep {
                story.line("")
                story.line("--keep: the console stays up; open it in a browser on this machine. Ctrl-C stops the demo.")
                await Self.untilInterrupted()
            } else {
                story.line("(run `medtunnel demo --keep` to keep it up and open it in a browser)")
            }
            group.cancelAll()
        }
    }

    /// Status and final URL of a GET (redirects followed).
    static func status(_ url: String) async throws -> (Int, String) {
        let (_, response) = try await URLSession.shared.data(for: URLRequest(url: URL(string: url)!))
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, http?.url?.absoluteString ?? "")
    }

    /// Returns on SIGINT or SIGTERM.
    static func untilInterrupted() async {
        let (signals, sink) = AsyncStream.makeStream(of: Int32.self)
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { sink.yield(number) }
            source.resume()
            sources.append(source)
        }
        var iterator = signals.makeAsyncIterator()
        _ = await iterator.next()
        for source in sources { source.cancel() }
    }
}

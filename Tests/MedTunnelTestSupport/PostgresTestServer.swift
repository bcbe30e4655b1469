public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One throwaway PostgreSQL server per test process, started on first use through
/// `tools/postgres-test-server` and stopped when the process exits; each test gets a database of
/// its own from `newDatabase()`.
///
/// PostgreSQL is not optional for the tests: `tools/setup` installs it, and a missing server is a
/// failure naming what to run, never a skipped test.
public enum PostgresTestServer {
    /// The psql client of the same PostgreSQL (its wrapper in /usr/bin picks a cluster by itself).
    public static let psql = "/usr/lib/postgresql/15/bin/psql"

    /// The repository's `tools/postgres-test-server`, found from this file's own path.
    static let script: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools/postgres-test-server").path

    private static let lock = NSLock()
    private nonisolated(unsafe) static var started: (directory: String, url: String)?

    /// The server's URL (`postgres://medtunnel@127.0.0.1:PORT/postgres`), starting it if needed.
    public static func url() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let started { return started.url }
        let (directory, url) = try self.start(prefix: "medtunnel-pg", options: [])
        started = (directory, url)
        atexit { PostgresTestServer.stopAtExit() }
        return url
    }

    /// Starts a server in a new temporary directory (`tools/postgres-test-server start`); returns
    /// the directory and the URL it printed.
    private static func start(prefix: String, options: [String]) throws -> (directory: String, url: String) {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8))").path
        // --owner-pid: the script's watchdog stops the server if this process dies without
        // running its exit handler (a crash, SIGKILL).
        let output = try ChildProcess.run(
            script,
            ["start", directory, "--owner-pid", "\(getpid())"] + options,
            timeout: 120
        )
        let url = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard output.status == 0, url.hasPrefix("postgres://") else {
            throw ChildProcessError(
                "\(script) start \(options.joined(separator: " ")) failed (status \(output.status)): \(output.stderr) — run tools/setup to install postgresql"
            )
        }
        return (directory, url)
    }

    /// Stops the server in `directory` and removes it. Called with `lock` held, at exit.
    private static func stop(_ directory: String) {
        _ = try? ChildProcess.run(script, ["stop", directory], timeout: 60)
    }

    private nonisolated(unsafe) static var startedTLS: TLSServer?

    /// A second throwaway server that takes TLS connections only (`start --tls`), started on
    /// first use and stopped at exit: its plain URL (for psql over the socket directory's
    /// loopback port, which refuses it: use `url(database:rootCertificates:)`), its CA and a CA
    /// that did not sign its certificate. Its certificate names `localhost` only.
    public struct TLSServer: Sendable {
        public let directory: String
        public let port: Int
        public var caPath: String { directory + "/tls/ca.pem" }
        public var otherCAPath: String { directory + "/tls/other-ca.pem" }

        /// `postgres://medtunnel@HOST:PORT/DATABASE?sslmode=verify-full&sslrootcert=ROOTS`.
        public func url(
            host: String = "localhost",
            database: String = "postgres",
            rootCertificates: String? = nil
        )
            -> String
        {
            "postgres://medtunnel@\(host):\(port)/\(database)?sslmode=verify-full&sslrootcert=\(rootCertificates ?? caPath)"
        }
    }

    /// Started once, on a thread of its own: its start (initdb, certificates) takes seconds, and
    /// callers waiting for it must not hold the cooperative pool's threads meanwhile (other tests'
    /// PostgreSQL transactions would stall past the server's 2 s idle-in-transaction bound).
    private static let tlsStart = Mutex<Task<TLSServer, any Error>?>(nil)

    public static func tlsServer() async throws -> TLSServer {
        let start = tlsStart.withLock { current in
            if let current { return current }
            let task = Task<TLSServer, any Error> { try await onAThreadOfItsOwn { try Self.startTLS() } }
            current = task
            return task
        }
        return try await start.value
    }

    private static func startTLS() throws -> TLSServer {
        let (directory, url) = try self.start(prefix: "medtunnel-pgtls", options: ["--tls"])
        guard let port = URL(string: url)?.port else {
            throw ChildProcessError("\(script) start --tls printed no port: \(url)")
        }
        let server = TLSServer(directory: directory, port: port)
        lock.lock()
        startedTLS = server
        lock.unlock()
        atexit { PostgresTestServer.stopTLSAtExit() }
        return server
    }

    private static func stopTLSAtExit() {
        lock.lock()
        defer { lock.unlock() }
        guard let startedTLS else { return }
        self.stop(startedTLS.directory)
        self.startedTLS = nil
    }

    /// A new, empty database on the shared server; returns its URL. From async code: psql runs
    /// on a thread of its own (the first call also starts the server, for seconds), so the
    /// cooperative pool's threads stay free for other tests' transactions meanwhile.
    public static func newDatabase() async throws -> String {
        try await onAThreadOfItsOwn { try Self.newDatabase() }
    }

    /// A new, empty database on the shared server; returns its URL.
    public static func newDatabase() throws -> String {
        let server = try self.url()
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try self.sql(server, "CREATE DATABASE \(name)")
        return server.replacingOccurrences(of: "/postgres", with: "/\(name)", options: .backwards)
    }

    /// Runs SQL with psql against `url`, as an operator with database access would; stops at the
    /// first error and throws it. Returns what psql printed (unaligned, tuples only).
    @discardableResult
    public static func sql(_ url: String, _ statements: String) async throws -> String {
        try await onAThreadOfItsOwn { try Self.sql(url, statements) }
    }

    /// `sql(_:_:)` for synchronous callers: blocks the calling thread while psql runs.
    @discardableResult
    public static func sql(_ url: String, _ statements: String) throws -> String {
        let output = try ChildProcess.run(
            psql,
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", statements]
        )
        guard output.status == 0 else {
            throw ChildProcessError("psql \(statements.prefix(120)): \(output.stderr)")
        }
        return output.stdout
    }

    /// A port on 127.0.0.1 where nothing listens: bound, then closed, so the next connect is
    /// refused (the kernel does not hand it out again at once).
    public static func closedPort() -> Int { Loopback.freePort() }

    private static func stopAtExit() {
        lock.lock()
        defer { lock.unlock() }
        guard let started else { return }
        self.stop(started.directory)
        self.started = nil
    }
}

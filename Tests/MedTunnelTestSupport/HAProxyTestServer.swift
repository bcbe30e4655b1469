import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real HAProxy (Debian's, `/usr/sbin/haproxy`) in TCP mode on 127.0.0.1, in front of several
/// listeners of this test: the load balancer a deployment puts in front of several gateway
/// nodes, so that tests see what its health checks, balancing and timeouts do to pump sessions
/// rather than what a hand-written stand-in would do.
///
/// Each frontend is a `listen` section: one port on 127.0.0.1 (0 picks a free one), its servers
/// checked every 500 ms (`check inter 500ms fall 2 rise 1`: a stopped backend is out within about
/// a second, a restarted one back at the next check). `timeout connect 2s`; `timeout client` and
/// `timeout server` are an hour with `option tcpka`, because pump sessions are long-lived and the
/// tunnel must never be cut by the balancer while both ends are alive. Backends also see the
/// health checks as TCP connections that open and close without a byte.
///
/// The configuration is checked with `haproxy -c` first (an invalid one throws with haproxy's
/// own words); haproxy then runs in the foreground (`-db`) as a child of this process, never a
/// daemon, with an admin socket in its temporary directory for ``serverStates()`` and
/// ``command(_:)``. `init` returns once every frontend port accepts a connection. ``stop(grace:)``
/// (also run on deinit and when the process exits) terminates it and removes the directory; a
/// watchdog stops it if this process dies without exiting (a crash, SIGKILL).
///
/// HAProxy is not optional for the tests: `tools/setup` installs it, and a missing binary is a
/// failure naming what to run, never a skipped test.
public final class HAProxyTestServer: Sendable {
    /// Debian's haproxy (the package `haproxy`).
    public static let executable = "/usr/sbin/haproxy"

    /// How a frontend spreads new connections over its servers.
    public enum Balance: String, Sendable {
        /// Each server in turn.
        case roundRobin = "roundrobin"
        /// The server with the fewest open connections (what suits long-lived sessions).
        case leastConnections = "leastconn"
    }

    /// A server behind a frontend: a listener of the test on loopback.
    public struct Backend: Sendable, Equatable {
        public var name: String
        public var host: String
        public var port: Int
        /// nil: a TCP check of `port`. A port: an HTTP check `GET /healthz` there, expecting 200
        /// (a gateway's API: a stopped process, whose kernel still accepts on its ports, or a
        /// node without its lease is taken out; a TCP check sees neither).
        public var healthPort: Int?

        /// `host` must be a loopback address (tests never reach beyond this machine).
        public init(name: String, host: String = "127.0.0.1", port: Int, healthPort: Int? = nil) {
            self.name = name
            self.host = host
            self.port = port
            self.healthPort = healthPort
        }
    }

    /// A port of the balancer on 127.0.0.1 and the servers behind it.
    public struct Frontend: Sendable, Equatable {
        public var name: String
        /// 0: a free port, chosen at start (``port(_:)`` says which).
        public var port: Int
        public var backends: [Backend]

        public init(name: String, port: Int = 0, backends: [Backend]) {
            self.name = name
            self.port = port
            self.backends = backends
        }
    }

    /// The temporary directory: `haproxy.cfg`, `haproxy.log` (haproxy's stdout and stderr, where
    /// it reports servers going down and up) and the admin socket `admin.sock`.
    public let directory: String
    /// The configuration haproxy runs with.
    public let configuration: String
    /// The port of each frontend, by name.
    public let ports: [String: Int]
    public var processIdentifier: Int32 { self.process.processIdentifier }

    private let process: ChildProcess
    private let watchdog: ChildProcess
    private let socketPath: String
    private let stopped = Mutex(false)

    /// Starts haproxy with `frontends` and waits (up to `timeout` seconds) until each frontend
    /// port accepts a connection. Throws if haproxy is missing, rejects the configuration or
    /// exits before it listens, with what it said.
    public init(frontends: [Frontend], balance: Balance = .roundRobin, timeout: Double = 10) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw HAProxyTestServerError("\(Self.executable) not found: run tools/setup (it installs haproxy)")
        }
        try Self.validate(frontends)
        // A port picked here may be taken by someone else before haproxy binds it: start again
        // with other ports then, a few times.
        let choosesPorts = frontends.contains { $0.port == 0 }
        var attempt = 1
        while true {
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("medtunnel-haproxy-\(getpid())-\(UUID().uuidString.prefix(8))").path
            let socketPath = directory + "/admin.sock"
            guard socketPath.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
                throw HAProxyTestServerError(
                    "the admin socket path \(socketPath) is too long for a unix socket: set TMPDIR to a shorter directory"
                )
            }
            var ports: [String: Int] = [:]
            for frontend in frontends {
                ports[frontend.name] = frontend.port == 0 ? Loopback.freePort() : frontend.port
            }
            let configuration = Self.configuration(
                frontends,
                ports: ports,
                balance: balance,
                socketPath: socketPath
            )
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
            do {
                let configPath = directory + "/haproxy.cfg"
                try configuration.write(toFile: configPath, atomically: true, encoding: .utf8)
                let check = try ChildProcess.run(Self.executable, ["-c", "-f", configPath], timeout: 30)
                guard check.status == 0 else {
                    throw HAProxyTestServerError(
                        "haproxy -c rejected the configuration (status \(check.status)):\n\(check.stdout)\(check.stderr)\n--- haproxy.cfg\n\(configuration)"
                    )
                }
                let process = try Self.spawn(configPath: configPath, logPath: directory + "/haproxy.log")
                let watchdog: ChildProcess
                do {
                    watchdog = try Self.spawnWatchdog(haproxy: process.processIdentifier, directory: directory)
                } catch {
                    process.stop(grace: 2)
                    throw error
                }
                do {
                    try Self.waitUntilListening(
                        process,
                        socketPath: socketPath,
                        ports: ports.values.sorted(),
                        timeout: timeout
                    )
                } catch let failure as HAProxyTestServerError {
                    Self.end(process, watchdog: watchdog, grace: 2)
                    let log = (try? String(contentsOfFile: directory + "/haproxy.log", encoding: .utf8)) ?? ""
                    try? FileManager.default.removeItem(atPath: directory)
                    if choosesPorts, attempt < 5, log.contains("cannot bind socket") {
                        attempt += 1
                        continue
                    }
                    throw HAProxyTestServerError("\(failure.description)\n--- haproxy.log\n\(log)")
                }
                self.directory = directory
                self.configuration = configuration
                self.ports = ports
                self.process = process
                self.watchdog = watchdog
                self.socketPath = socketPath
                Self.running.withLock { $0[process.processIdentifier] = (process, watchdog, directory) }
                _ = Self.exitHandler
                return
            } catch {
                try? FileManager.default.removeItem(atPath: directory)
                throw error
            }
        }
    }

    deinit { self.stop(grace: 2) }

    /// The port of the frontend `name` (a programming error if there is none).
    public func port(_ name: String) -> Int {
        guard let port = self.ports[name] else { preconditionFailure("no frontend \(name) (have \(self.ports.keys))") }
        return port
    }

    /// Whether haproxy still runs.
    public var isRunning: Bool { self.process.isRunning }

    /// Terminates haproxy (SIGTERM, SIGKILL after `grace` seconds), waits for it and removes the
    /// directory. Idempotent.
    public func stop(grace: Double = 5) {
        let wasStopped = self.stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !wasStopped else { return }
        Self.running.withLock { _ = $0.removeValue(forKey: self.process.processIdentifier) }
        Self.end(self.process, watchdog: self.watchdog, grace: grace)
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// The state haproxy gives each server, by `frontend/server`, from `show stat`: "UP", "DOWN",
    /// "UP 1/2" (up, a check failed), "DOWN 1/1" (down, a check passed), "MAINT", "no check".
    public func serverStates() throws -> [String: String] {
        let csv = try self.command("show stat")
        let lines = csv.split(separator: "\n", omittingEmptySubsequences: true)
        guard let header = lines.first, header.hasPrefix("# ") else {
            throw HAProxyTestServerError("show stat: no CSV header in \(csv.prefix(500))")
        }
        let columns = header.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let proxy = columns.firstIndex(of: "pxname"), let server = columns.firstIndex(of: "svname"),
            let status = columns.firstIndex(of: "status")
        else { throw HAProxyTestServerError("show stat: no pxname, svname or status column in \(header)") }
        var states: [String: String] = [:]
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count > max(proxy, server, status) else { continue }
            guard fields[server] != "FRONTEND", fields[server] != "BACKEND" else { continue }
            states["\(fields[proxy])/\(fields[server])"] = fields[status]
        }
        return states
    }

    /// Polls ``serverStates()`` until the state of `server` (`frontend/server`) starts with
    /// `state` ("UP", "DOWN", "MAINT"); throws, with the last states, after `timeout` seconds.
    public func waitForServer(_ server: String, state: String, timeout: Double = 5) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var states: [String: String] = [:]
        while true {
            states = try self.serverStates()
            if let current = states[server], current.hasPrefix(state) { return }
            guard Date() < deadline else {
                throw HAProxyTestServerError(
                    "\(server) not \(state) after \(timeout) s: \(states.sorted { $0.key < $1.key })"
                )
            }
            usleep(50_000)
        }
    }

    /// Sends one command to haproxy's admin socket ("show stat", "disable server gw/node-a",
    /// "set server gw/node-a state drain") and returns its answer.
    public func command(_ command: String) throws -> String {
        do {
            return try Self.command(command, socketPath: self.socketPath)
        } catch let error as HAProxyTestServerError {
            throw HAProxyTestServerError("\(error.description) (haproxy running: \(self.isRunning))")
        }
    }

    private static func command(_ command: String, socketPath: String) throws -> String {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else {
            throw HAProxyTestServerError("socket(AF_UNIX): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in socketPath.utf8.enumerated() { path[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            throw HAProxyTestServerError("connect \(socketPath): \(String(cString: strerror(errno)))")
        }
        let request = Array((command + "\n").utf8)
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
            guard written > 0 else {
                if written < 0 && errno == EINTR { continue }
                throw HAProxyTestServerError("send to \(socketPath): \(String(cString: strerror(errno)))")
            }
            sent += written
        }
        // Without `prompt`, haproxy answers one command and closes the connection.
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else {
                if errno == EINTR { continue }
                throw HAProxyTestServerError("read from \(socketPath): \(String(cString: strerror(errno)))")
            }
            answer += buffer[..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    // MARK: Configuration

    /// Names go into the configuration as they are: letters, digits, `-`, `_`, `.` only.
    private static func validate(_ frontends: [Frontend]) throws {
        guard !frontends.isEmpty else { throw HAProxyTestServerError("no frontends") }
        func checkName(_ name: String) throws {
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
            guard !name.isEmpty, name.allSatisfy(allowed.contains) else {
                throw HAProxyTestServerError("\(name.debugDescription): names are letters, digits, -, _ and . only")
            }
        }
        var names = Set<String>()
        for frontend in frontends {
            try checkName(frontend.name)
            guard names.insert(frontend.name).inserted else {
                throw HAProxyTestServerError("two frontends named \(frontend.name)")
            }
            guard (0...65535).contains(frontend.port) else {
                throw HAProxyTestServerError("frontend \(frontend.name): port \(frontend.port)")
            }
            guard !frontend.backends.isEmpty else {
                throw HAProxyTestServerError("frontend \(frontend.name) has no backends")
            }
            var servers = Set<String>()
            for backend in frontend.backends {
                try checkName(backend.name)
                guard servers.insert(backend.name).inserted else {
                    throw HAProxyTestServerError("two backends named \(backend.name) in \(frontend.name)")
                }
                guard backend.host.hasPrefix("127.") || backend.host == "::1" || backend.host == "localhost" else {
                    throw HAProxyTestServerError(
                        "backend \(frontend.name)/\(backend.name): \(backend.host) is not loopback (tests stay on this machine)"
                    )
                }
                guard (1...65535).contains(backend.port) else {
                    throw HAProxyTestServerError("backend \(frontend.name)/\(backend.name): port \(backend.port)")
                }
            }
        }
    }

    private static func configuration(
        _ frontends: [Frontend],
        ports: [String: Int],
        balance: Balance,
        socketPath: String
    ) -> String {
        var text = """
            global
                stats socket \(socketPath) mode 600 level admin
                maxconn 4096
                # A port is this haproxy's alone: with SO_REUSEPORT a second one (a leftover of an
                # earlier run) could bind the same port and take half of the connections.
                noreuseport

            defaults
                mode tcp
                timeout connect 2s
                # Pump sessions are long-lived: the balancer must not cut a quiet tunnel.
                timeout client 1h
                timeout server 1h
                timeout check 2s
                option tcpka

            """
        for frontend in frontends {
            text += "\nlisten \(frontend.name)\n"
            text += "    bind 127.0.0.1:\(ports[frontend.name] ?? frontend.port)\n"
            text += "    balance \(balance.rawValue)\n"
            if frontend.backends.contains(where: { $0.healthPort != nil }) {
                text += "    option httpchk GET /healthz\n    http-check expect status 200\n"
            }
            for backend in frontend.backends {
                let host = backend.host.contains(":") ? "[\(backend.host)]" : backend.host
                let port = backend.healthPort.map { " port \($0)" } ?? ""
                text +=
                    "    server \(backend.name) \(host):\(backend.port) check\(port) inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions\n"
            }
        }
        return text
    }

    // MARK: The process

    private static func spawn(configPath: String, logPath: String) throws -> ChildProcess {
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer {
            close(null)
            close(log)
        }
        guard null >= 0, log >= 0 else {
            throw HAProxyTestServerError("open \(logPath): \(String(cString: strerror(errno)))")
        }
        // -db: foreground, no daemon, no master process; SIGTERM stops it at once.
        return try ChildProcess(
            executable: Self.executable,
            arguments: ["-db", "-f", configPath],
            stdin: null,
            stdout: log,
            stderr: log
        )
    }

    /// A shell that outlives this process only to stop haproxy once it has gone (checked every
    /// second); killed by ``stop(grace:)``. It checks the pid still is haproxy before signalling.
    private static func spawnWatchdog(haproxy: Int32, directory: String) throws -> ChildProcess {
        let script = """
            while kill -0 "$1" 2>/dev/null; do sleep 1; done
            if grep -q haproxy "/proc/$2/cmdline" 2>/dev/null; then
                kill -TERM "$2" 2>/dev/null; sleep 2; kill -KILL "$2" 2>/dev/null
            fi
            rm -rf "$3"
            """
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(null) }
        return try ChildProcess(
            executable: "/bin/sh",
            arguments: ["-c", script, "haproxy-watchdog", "\(getpid())", "\(haproxy)", directory],
            stdin: null,
            stdout: null,
            stderr: null
        )
    }

    /// Waits until the admin socket answers (haproxy binds every listener before it serves any,
    /// so a port someone else took fails it here instead of being mistaken for haproxy's), then
    /// until each frontend port accepts.
    private static func waitUntilListening(
        _ process: ChildProcess,
        socketPath: String,
        ports: [Int],
        timeout: Double
    ) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while (try? Self.command("show info", socketPath: socketPath)) == nil {
            guard process.isRunning else {
                throw HAProxyTestServerError("haproxy exited (status \(process.terminationStatus)) before it listened")
            }
            guard Date() < deadline else {
                throw HAProxyTestServerError("haproxy's admin socket did not answer within \(timeout) s")
            }
            usleep(20_000)
        }
        var waiting = ports
        while !waiting.isEmpty {
            guard process.isRunning else {
                throw HAProxyTestServerError("haproxy exited (status \(process.terminationStatus)) before it listened")
            }
            waiting.removeAll { Loopback.accepts(port: $0) }
            guard !waiting.isEmpty else { break }
            guard Date() < deadline else {
                throw HAProxyTestServerError("haproxy did not listen on 127.0.0.1:\(waiting) within \(timeout) s")
            }
            usleep(20_000)
        }
    }

    private static func end(_ process: ChildProcess, watchdog: ChildProcess, grace: Double) {
        kill(watchdog.processIdentifier, SIGKILL)
        watchdog.waitUntilExit()
        process.stop(grace: grace)
    }

    // MARK: Exit

    /// Servers not stopped yet, by pid: what the exit handler stops.
    private static let running = Mutex<[Int32: (ChildProcess, ChildProcess, String)]>([:])

    private static let exitHandler: Void = {
        atexit { HAProxyTestServer.stopAllAtExit() }
    }()

    private static func stopAllAtExit() {
        let servers = running.withLock { running in
            defer { running = [:] }
            return Array(running.values)
        }
        for (process, watchdog, directory) in servers {
            end(process, watchdog: watchdog, grace: 2)
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}

/// Why a HAProxyTestServer could not start or answer, with what haproxy said.
public struct HAProxyTestServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

import Foundation
import MedTunnelTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The test harness's network pieces (MedTunnelTestSupport) against listeners of their own,
/// before gateway tests lean on them: a real HAProxy in front of two nodes, and the proxy that
/// cuts and blackholes connections.
@Suite("Test harness: HAProxy in front of nodes, a TCP proxy the test cuts", .offThePool)
struct TestHarnessTests {
    @Test("under .offThePool, a test and its child tasks block threads of their own: nine blocked at once all run")
    func offThePoolBlocksItsOwnThreads() async throws {
        // On the cooperative pool (a thread per core) the children could not all start while
        // this test and the first ones block: the waits below would time out.
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let children = 8
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<children {
                group.addTask {
                    started.signal()
                    release.wait()
                }
            }
            defer { for _ in 0..<children { release.signal() } }
            for _ in 0..<children {
                try #require(started.wait(timeout: .now() + 10) == .success, "a child never got a thread")
            }
        }
    }

    @Test(
        "HAProxy spreads connections over both nodes, takes a stopped node out within 3 s and says so, and leaves nothing behind",
        .timeLimit(.minutes(1))
    )
    func haproxyBalancesAndTakesAStoppedNodeOut() async throws {
        let nodeA = try await EchoServer.start(greeting: "node-a")
        let nodeB = try await EchoServer.start(greeting: "node-b")
        let haproxy = try HAProxyTestServer(
            frontends: [
                .init(
                    name: "gw",
                    backends: [.init(name: "node-a", port: nodeA.port), .init(name: "node-b", port: nodeB.port)]
                )
            ],
            balance: .roundRobin
        )
        defer { haproxy.stop() }
        let port = haproxy.port("gw")
        #expect(haproxy.configuration.contains("check inter 500ms fall 2 rise 1"))
        #expect(haproxy.configuration.contains("timeout client 1h"))

        // Round robin: four connections in a row reach both nodes.
        var greetings: [String] = []
        for _ in 0..<4 {
            let client = try BlockingClient(port: port)
            greetings.append(try client.readLine(timeout: 2))
        }
        #expect(Set(greetings) == ["node-a", "node-b"], "greetings: \(greetings)")
        try haproxy.waitForServer("gw/node-a", state: "UP")

        // node-a stops listening: within 3 s every new connection reaches node-b.
        await nodeA.stop()
        let stopped = ContinuousClock.now
        var streak = 0
        var seen: [String] = []
        while streak < 6, ContinuousClock.now - stopped < .seconds(3) {
            // A connection sent to node-a before it is marked down ends without a greeting.
            let greeting = (try? BlockingClient(port: port).readLine(timeout: 0.5)) ?? "(none)"
            seen.append(greeting)
            streak = greeting == "node-b" ? streak + 1 : 0
            if streak == 0 { usleep(50_000) }
        }
        let failover = ContinuousClock.now - stopped
        try #require(streak == 6, "after node-a stopped, connections got \(seen) in \(failover)")

        let states = try haproxy.serverStates()
        #expect(states["gw/node-a"]?.hasPrefix("DOWN") == true, "\(states)")
        #expect(states["gw/node-b"] == "UP", "\(states)")

        let pid = haproxy.processIdentifier
        let directory = haproxy.directory
        haproxy.stop()
        #expect(!haproxy.isRunning)
        let gone = kill(pid, 0) == -1 && errno == ESRCH
        #expect(gone, "haproxy \(pid) is still there")
        #expect(!Loopback.accepts(port: port), "127.0.0.1:\(port) still accepts after stop")
        #expect(!FileManager.default.fileExists(atPath: directory))
        await nodeB.stop()
    }

    @Test("HAProxyTestServer refuses a backend that is not on loopback, before starting anything")
    func haproxyRefusesANonLoopbackBackend() throws {
        let error = #expect(throws: HAProxyTestServerError.self) {
            try HAProxyTestServer(frontends: [
                .init(name: "gw", backends: [.init(name: "n", host: "10.0.0.1", port: 5432)])
            ])
        }
        #expect(error?.description.contains("not loopback") == true)
    }

    @Test("HAProxyTestServer fails with haproxy's own words when a frontend port is taken", .timeLimit(.minutes(1)))
    func haproxyReportsATakenPort() async throws {
        let squatter = try await EchoServer.start(greeting: nil)
        let error = #expect(throws: HAProxyTestServerError.self) {
            try HAProxyTestServer(
                frontends: [.init(name: "gw", port: squatter.port, backends: [.init(name: "n", port: squatter.port)])]
            )
        }
        #expect(error?.description.contains("cannot bind socket") == true, "\(String(describing: error))")
        #expect(squatter.accepted == 0, "nothing mistook the squatter for haproxy")
        await squatter.stop()
    }

    @Test("TCPCutProxy forwards both ways and counts connections and bytes", .timeLimit(.minutes(1)))
    func proxyForwards() async throws {
        let echo = try await EchoServer.start(greeting: nil)
        let proxy = try await TCPCutProxy.start(targetPort: echo.port)
        let client = try BlockingClient(port: proxy.port)
        try client.send("hello\n")
        #expect(try client.readLine(timeout: 2) == "hello")
        try client.send("again\n")
        #expect(try client.readLine(timeout: 2) == "again")
        #expect(proxy.connectionsAccepted == 1)
        #expect(proxy.bytesForwarded == 24)  // 12 bytes each way
        #expect(proxy.openConnections == 1)
        await proxy.stop()
        #expect(client.read(timeout: 2) == .end)
        #expect(!Loopback.accepts(port: proxy.port))
        await echo.stop()
    }

    @Test(
        "TCPCutProxy.cut() ends open connections and new ones until restore() forwards new connections again",
        .timeLimit(.minutes(1))
    )
    func proxyCutsAndRestores() async throws {
        let echo = try await EchoServer.start(greeting: nil)
        let proxy = try await TCPCutProxy.start(targetPort: echo.port)
        let open = try BlockingClient(port: proxy.port)
        try open.send("before\n")
        #expect(try open.readLine(timeout: 2) == "before")

        await proxy.cut()
        #expect(await proxy.mode == .cut)
        #expect(
            [BlockingClient.Read.end, .reset].contains(open.read(timeout: 2)),
            "an open connection ends at the cut"
        )
        // New connections are accepted and closed at once (never forwarded).
        let refused = try BlockingClient(port: proxy.port)
        try? refused.send("during\n")
        #expect([BlockingClient.Read.end, .reset].contains(refused.read(timeout: 2)))
        #expect(echo.accepted == 1, "the target saw only the first connection")

        await proxy.restore()
        let after = try BlockingClient(port: proxy.port)
        try after.send("after\n")
        #expect(try after.readLine(timeout: 2) == "after")
        #expect(proxy.connectionsAccepted == 3)
        await proxy.stop()
        await echo.stop()
    }

    @Test(
        "TCPCutProxy.blackhole() keeps connections open and drops every byte, both ways, for old and new connections",
        .timeLimit(.minutes(1))
    )
    func proxyBlackholes() async throws {
        let echo = try await EchoServer.start(greeting: nil)
        let proxy = try await TCPCutProxy.start(targetPort: echo.port)
        let open = try BlockingClient(port: proxy.port)
        try open.send("before\n")
        #expect(try open.readLine(timeout: 2) == "before")
        let forwarded = proxy.bytesForwarded

        await proxy.blackhole()
        try open.send("lost\n")
        #expect(open.read(timeout: 0.5) == .timedOut, "a write through the blackhole goes unanswered")
        // Still open: a second write is taken too, and nothing (not even an end) comes back.
        try open.send("lost again\n")
        #expect(open.read(timeout: 0.2) == .timedOut)
        let newcomer = try BlockingClient(port: proxy.port)
        try newcomer.send("hello?\n")
        #expect(newcomer.read(timeout: 0.5) == .timedOut)
        #expect(proxy.bytesForwarded == forwarded)
        #expect(proxy.bytesDropped == 5 + 11 + 7)
        #expect(proxy.openConnections == 2)
        #expect(echo.accepted == 1, "the target never saw the connection made during the blackhole")

        // restore(): new connections are forwarded; the blackholed one stays silent.
        await proxy.restore()
        let after = try BlockingClient(port: proxy.port)
        try after.send("after\n")
        #expect(try after.readLine(timeout: 2) == "after")
        try open.send("still lost\n")
        #expect(open.read(timeout: 0.3) == .timedOut)
        await proxy.stop()
        #expect(
            [BlockingClient.Read.end, .reset].contains(open.read(timeout: 2)),
            "stop() closes blackholed connections too"
        )
        await echo.stop()
    }
}

/// A listener on 127.0.0.1 that sends `greeting` and a newline to each connection (when it has
/// one), then echoes what it reads.
private final class EchoServer: Sendable {
    let channel: any Channel
    let port: Int
    private let counter: Counter

    var accepted: Int { self.counter.value }

    private init(channel: any Channel, port: Int, counter: Counter) {
        self.channel = channel
        self.port = port
        self.counter = counter
    }

    static func start(greeting: String?) async throws -> EchoServer {
        let counter = Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counter.increment()
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(greeting: greeting))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = try #require(channel.localAddress?.port)
        return EchoServer(channel: channel, port: port, counter: counter)
    }

    /// Stops listening (connections already accepted stay open).
    func stop() async { try? await self.channel.close() }
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { self.count.withLock { $0 } }
    func increment() { self.count.withLock { $0 += 1 } }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let greeting: String?

    init(greeting: String?) { self.greeting = greeting }

    func channelActive(context: ChannelHandlerContext) {
        if let greeting {
            context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: greeting + "\n")), promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A blocking client socket on 127.0.0.1, read with a timeout: what a test needs to tell an
/// answer from an end, a reset or silence.
private final class BlockingClient {
    enum Read: Equatable {
        case bytes([UInt8])
        case end
        case reset
        case timedOut
    }

    let descriptor: Int32

    init(port: Int) throws {
        self.descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard self.descriptor >= 0 else { throw ClientError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(self.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(self.descriptor)
            throw ClientError("connect 127.0.0.1:\(port): \(reason)")
        }
    }

    deinit { close(self.descriptor) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        let sent = bytes.withUnsafeBytes { Glibc.send(self.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw ClientError("send: \(String(cString: strerror(errno)))") }
    }

    /// What arrives within `timeout` seconds.
    func read(timeout: Double) -> Read {
        var poller = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Int32(timeout * 1000))
        guard ready > 0 else { return .timedOut }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
        if count > 0 { return .bytes(Array(buffer[..<count])) }
        return count == 0 ? .end : .reset
    }

    /// One line (without its newline) within `timeout` seconds.
    func readLine(timeout: Double) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var line: [UInt8] = []
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw ClientError("no line within \(timeout) s (got \(line.count) bytes)") }
            // One byte at a time: nothing after the line is taken from the socket.
            var poller = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(left * 1000) + 1) > 0 else { continue }
            var byte: UInt8 = 0
            let count = recv(self.descriptor, &byte, 1, 0)
            guard count == 1 else { throw ClientError(count == 0 ? "end before a line" : "reset before a line") }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }
}

private struct ClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

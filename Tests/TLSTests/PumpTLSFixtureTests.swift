// Fixtures for the PumpTLS tests: a throwaway PKI made with the openssl CLI, a real
// `openssl s_server` on a random loopback port, and a TCP driver for the sans-IO engine.
// (Named *Tests.swift to sit with the other PumpTLS test files; it holds no tests.)

import Foundation
import Glibc
import PumpTLS
import Testing

struct PumpTLSFixtureError: Error, CustomStringConvertible {
    var description: String
}

/// Certificates for one test, in a temp dir removed by `remove()`.
struct PumpTLSTestPKI {
    static let gatewayName = "gateway.medtunnel.test"
    static let pumpSerial = "MT-0001"

    let directory: URL
    var caPEM: String
    var pumpCertificatePEM: String
    var pumpKeyPEM: String

    func path(_ name: String) -> String { self.directory.appendingPathComponent(name).path }

    static func create() throws -> PumpTLSTestPKI {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pumptls-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        do {
            let run = { (arguments: [String]) throws in try openssl(arguments, in: directory) }
            for ca in ["ca", "foreign-ca"] {
                try run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "\(ca).key"])
                try run([
                    "req", "-x509", "-new", "-key", "\(ca).key", "-subj", "/CN=MedTunnel Test \(ca)", "-days", "2",
                    "-sha256", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign", "-out", "\(ca).pem",
                ])
            }
            let serverExtensions = """
                basicConstraints=critical,CA:FALSE
                keyUsage=critical,digitalSignature
                extendedKeyUsage=serverAuth
                subjectAltName=DNS:\(gatewayName),IP:127.0.0.1
                """
            let pumpExtensions = """
                basicConstraints=critical,CA:FALSE
                keyUsage=critical,digitalSignature
                extendedKeyUsage=clientAuth
                subjectAltName=URI:urn:medtunnel:pump:\(pumpSerial)
                """
            try issue("server", "/CN=\(gatewayName)", serverExtensions, by: "ca", in: directory)
            try issue("foreign-server", "/CN=\(gatewayName)", serverExtensions, by: "foreign-ca", in: directory)
            try issue("pump", "/CN=\(pumpSerial)", pumpExtensions, by: "ca", in: directory)
            func read(_ name: String) throws -> String {
                try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            }
            return PumpTLSTestPKI(
                directory: directory,
                caPEM: try read("ca.pem"),
                pumpCertificatePEM: try read("pump.pem"),
                pumpKeyPEM: try read("pump.key")
            )
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// A self-signed RSA gateway certificate (for the "server speaks only RSA" case).
    func makeRSAServer() throws {
        try Self.openssl(
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa-server.key", "-out",
                "rsa-server.pem", "-subj", "/CN=\(Self.gatewayName)", "-days", "2",
            ],
            in: self.directory
        )
    }

    /// A gateway certificate from the right CA that expired in 2020 (same key as `server`).
    func makeExpiredServer() throws {
        let caConfig = """
            [ca]
            default_ca = test_ca
            [test_ca]
            database = index.txt
            new_certs_dir = .
            certificate = ca.pem
            private_key = ca.key
            default_md = sha256
            policy = policy_any
            serial = serial
            [policy_any]
            commonName = supplied

            """
        try caConfig.write(toFile: self.path("ca.cnf"), atomically: true, encoding: .utf8)
        try "".write(toFile: self.path("index.txt"), atomically: true, encoding: .utf8)
        try "01\n".write(toFile: self.path("serial"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: self.path("server.key"), toPath: self.path("expired-server.key"))
        try Self.openssl(
            [
                "ca", "-batch", "-config", "ca.cnf", "-in", "server.csr", "-out", "expired-server.pem", "-notext",
                "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extfile", "server.ext",
            ],
            in: self.directory
        )
    }

    func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }

    func configuration(
        suites: [PumpTLSCipherSuite] = PumpTLSCipherSuite.allCases,
        maxFragmentLength: PumpTLSMaxFragmentLength? = .bytes4096
    ) throws(PumpTLSError) -> PumpTLSConfiguration {
        try PumpTLSConfiguration(
            trustedCAPEM: self.caPEM,
            certificatePEM: self.pumpCertificatePEM,
            privateKeyPEM: self.pumpKeyPEM,
            cipherSuites: suites,
            maxFragmentLength: maxFragmentLength
        )
    }

    private static func issue(
        _ name: String,
        _ subject: String,
        _ extensions: String,
        by ca: String,
        in directory: URL
    )
        throws
    {
        try extensions.write(to: directory.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl(
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "\(name).key"],
            in: directory
        )
        try openssl(["req", "-new", "-key", "\(name).key", "-subj", subject, "-out", "\(name).csr"], in: directory)
        try openssl(
            [
                "x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-set_serial",
                "\(UInt32.random(in: 1...UInt32.max))", "-days", "2", "-sha256", "-extfile", "\(name).ext", "-out",
                "\(name).pem",
            ],
            in: directory
        )
    }

    private static func openssl(_ arguments: [String], in directory: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PumpTLSFixtureError(description: "openssl \(arguments.joined(separator: " ")) failed")
        }
    }
}

/// A real `openssl s_server` on 127.0.0.1 with a kernel-chosen port; output goes to a file.
final class OpenSSLTestServer {
    let port: UInt16
    private let process: Process
    private let input: Pipe
    private let outputPath: String

    /// Starts `openssl s_server` with the pump profile's server side, plus `extra` arguments
    /// (which may repeat and thereby override earlier options).
    init(
        pki: PumpTLSTestPKI,
        certificate: String = "server",
        arguments extra: [String] = [],
        environment: [String: String] = [:]
    ) throws {
        self.outputPath = pki.path("s_server-\(UInt32.random(in: 0...UInt32.max)).out")
        _ = FileManager.default.createFile(atPath: self.outputPath, contents: nil)
        self.process = Process()
        self.process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        self.process.arguments =
            [
                "s_server", "-accept", "127.0.0.1:0", "-cert", pki.path("\(certificate).pem"), "-key",
                pki.path("\(certificate).key"), "-CAfile", pki.path("ca.pem"), "-Verify", "1", "-verify_return_error",
                "-no_ticket",
            ] + extra
        var processEnvironment = ProcessInfo.processInfo.environment
        for (key, value) in environment { processEnvironment[key] = value }
        self.process.environment = processEnvironment
        self.input = Pipe()
        self.process.standardInput = self.input
        let output = FileHandle(forWritingAtPath: self.outputPath)!
        self.process.standardOutput = output
        self.process.standardError = output
        try self.process.run()
        try? output.close()

        // Poll for readiness: s_server prints "ACCEPT 127.0.0.1:PORT" once it listens.
        let deadline = ContinuousClock.now + .seconds(10)
        var port: UInt16?
        while port == nil && ContinuousClock.now < deadline && self.process.isRunning {
            if let line = Self.read(self.outputPath).split(separator: "\n").first(where: { $0.hasPrefix("ACCEPT ") }),
                let value = line.split(separator: ":").last
            {
                port = UInt16(value)
            } else {
                usleep(10_000)
            }
        }
        guard let port else {
            let output = Self.read(self.outputPath)
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
            throw PumpTLSFixtureError(description: "s_server did not start: \(output)")
        }
        self.port = port
    }

    /// Sends `text` on the server's stdin: s_server writes it to the connected client.
    func send(_ text: String) {
        self.input.fileHandleForWriting.write(Data(text.utf8))
    }

    var output: String { Self.read(self.outputPath) }

    /// Polls the server's output (short polling for the server, not for time under test).
    func waitForOutput(containing needle: String, timeout: Duration = .seconds(10)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if self.output.contains(needle) { return true }
            usleep(10_000)
        }
        return false
    }

    func stop() {
        // SIGKILL: s_server may inherit an ignored SIGTERM from the test runner.
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
        }
        self.process.waitUntilExit()
        try? self.input.fileHandleForWriting.close()
    }

    private static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}

/// A blocking loopback TCP socket with TCP_NODELAY and a short receive timeout.
final class PumpTLSTestSocket {
    enum Received: Equatable {
        case bytes([UInt8])
        case nothingYet
        case endOfStream
    }

    private let fd: Int32

    init(port: UInt16) throws {
        self.fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard self.fd >= 0 else { throw PumpTLSFixtureError(description: "socket() failed") }
        var one: Int32 = 1
        setsockopt(self.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 0, tv_usec: 20_000)
        setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sendTimeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(self.fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            Glibc.close(self.fd)
            throw PumpTLSFixtureError(description: "connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
    }

    deinit { Glibc.close(self.fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                Glibc.send(self.fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    func receive() -> Received {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        let count = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
        if count > 0 { return .bytes(Array(buffer[0..<count])) }
        if count == 0 { return .endOfStream }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .nothingYet : .endOfStream
    }

    /// Reads until one whole TLS record is buffered in `pending`; returns it (removed from `pending`).
    func receiveRecord(_ pending: inout [UInt8], timeout: Duration = .seconds(10)) -> [UInt8]? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if pending.count >= 5 {
                let length = Int(pending[3]) << 8 | Int(pending[4])
                if pending.count >= 5 + length {
                    let record = Array(pending[0..<(5 + length)])
                    pending.removeFirst(5 + length)
                    return record
                }
            }
            switch self.receive() {
            case .bytes(let bytes): pending += bytes
            case .nothingYet: continue
            case .endOfStream: return nil
            }
        }
        return nil
    }
}

/// Byte counts on the wire, pump's view.
struct PumpTLSWireCount {
    var sent = 0
    var received = 0
}

/// Shuttles bytes between the engine and the socket until `done` holds, the engine fails,
/// the peer closes the transport, or `timeout` passes. Returns whether `done` held.
@discardableResult
func drive(
    _ tls: PumpTLSConnection,
    _ socket: PumpTLSTestSocket,
    count: inout PumpTLSWireCount,
    timeout: Duration = .seconds(10),
    until done: (PumpTLSConnection) -> Bool
) -> Bool {
    let deadline = ContinuousClock.now + timeout
    func flush() {
        let outbound = tls.takeOutbound()
        if !outbound.isEmpty {
            count.sent += outbound.count
            socket.send(outbound)
        }
    }
    while ContinuousClock.now < deadline {
        flush()
        if done(tls) { return true }
        if case .failed = tls.state { return false }
        switch socket.receive() {
        case .bytes(let bytes):
            count.received += bytes.count
            tls.feed(ciphertext: bytes)
        case .nothingYet:
            continue
        case .endOfStream:
            tls.transportClosed()
            flush()
            return done(tls)
        }
    }
    return false
}

func handshake(_ tls: PumpTLSConnection, _ socket: PumpTLSTestSocket, count: inout PumpTLSWireCount) {
    tls.startHandshake()
    drive(tls, socket, count: &count) { $0.state != .handshaking }
}

func handshake(_ tls: PumpTLSConnection, _ socket: PumpTLSTestSocket) {
    var count = PumpTLSWireCount()
    handshake(tls, socket, count: &count)
}

extension PumpTLSState {
    var failure: PumpTLSError.Code? {
        if case .failed(let error) = self { return error.code }
        return nil
    }
}

/// Runs `body` with a fresh PKI and s_server, cleaning both up whatever happens.
func withGateway(
    arguments: [String] = [],
    certificate: String = "server",
    environment: (PumpTLSTestPKI) -> [String: String] = { _ in [:] },
    prepare: (PumpTLSTestPKI) throws -> Void = { _ in },
    _ body: (PumpTLSTestPKI, OpenSSLTestServer) throws -> Void
) throws {
    let pki = try PumpTLSTestPKI.create()
    defer { pki.remove() }
    try prepare(pki)
    let server = try OpenSSLTestServer(
        pki: pki,
        certificate: certificate,
        arguments: arguments,
        environment: environment(pki)
    )
    defer { server.stop() }
    try body(pki, server)
}

/// Sends whatever the engine has produced.
func flush(_ tls: PumpTLSConnection, _ socket: PumpTLSTestSocket) {
    let outbound = tls.takeOutbound()
    if !outbound.isEmpty { socket.send(outbound) }
}

/// Drives the engine until the plaintext received contains `needle`; returns all plaintext read.
func receivePlaintext(
    _ tls: PumpTLSConnection,
    _ socket: PumpTLSTestSocket,
    containing needle: String,
    timeout: Duration = .seconds(10)
) -> String {
    var received: [UInt8] = []
    var count = PumpTLSWireCount()
    drive(tls, socket, count: &count, timeout: timeout) { tls in
        received += tls.readPlaintext()
        return String(decoding: received, as: UTF8.self).contains(needle)
    }
    received += tls.readPlaintext()
    return String(decoding: received, as: UTF8.self)
}

/// Runs `body` with a pump connection established to a fresh s_server (PKI and server cleaned up after).
func withEstablishedPump(
    arguments: [String] = ["-tls1_2"],
    maxFragmentLength: PumpTLSMaxFragmentLength? = .bytes4096,
    _ body: (PumpTLSConnection, PumpTLSTestSocket, OpenSSLTestServer) throws -> Void
) throws {
    try withGateway(arguments: arguments) { pki, server in
        let tls = try PumpTLSConnection(
            configuration: pki.configuration(maxFragmentLength: maxFragmentLength),
            serverName: PumpTLSTestPKI.gatewayName
        )
        let socket = try PumpTLSTestSocket(port: server.port)
        handshake(tls, socket)
        try #require(tls.state == .established, "\(tls.state)\n\(server.output)")
        try body(tls, socket, server)
    }
}

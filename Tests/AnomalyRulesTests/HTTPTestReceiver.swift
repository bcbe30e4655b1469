import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tiny HTTP/1.1 receiver on 127.0.0.1 (an ephemeral port) for webhook tests: it answers
/// each request with the next status of its script (200 once the script is used up), records
/// the request, and closes the connection. Plain POSIX sockets on a background thread.
final class HTTPTestReceiver: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        /// Header names lowercased.
        var headers: [String: String]
        var body: Data
    }

    private struct State {
        var statuses: [Int]
        var requests: [Request] = []
    }

    let port: UInt16
    private let listener: Int32
    private let state: Mutex<State>

    init(statuses: [Int]) throws {
        let listener = try Self.boundSocket()
        guard listen(listener, 16) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        self.listener = listener
        self.port = try Self.port(of: listener)
        self.state = Mutex(State(statuses: statuses))
        let thread = Thread { [self] in self.serve() }
        thread.start()
    }

    /// A TCP socket bound to 127.0.0.1 on an ephemeral port.
    static func boundSocket() throws -> Int32 {
        #if canImport(Glibc)
        let stream = Int32(SOCK_STREAM.rawValue)
        #else
        let stream = SOCK_STREAM
        #endif
        let fd = socket(AF_INET, stream, 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        return fd
    }

    static func port(of fd: Int32) throws -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        return UInt16(bigEndian: address.sin_port)
    }

    var url: URL { URL(string: "http://127.0.0.1:\(self.port)/alerts")! }
    var requests: [Request] { self.state.withLock { $0.requests } }

    /// Stops accepting; the serving thread closes the socket.
    func stop() {
        shutdown(self.listener, Int32(SHUT_RDWR))
    }

    private func serve() {
        while true {
            let connection = accept(self.listener, nil, nil)
            guard connection >= 0 else { break }
            self.answer(connection)
            close(connection)
        }
        close(self.listener)
    }

    private func answer(_ connection: Int32) {
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let separator = Data("\r\n\r\n".utf8)
        var headerEnd: Range<Data.Index>?
        var expectedLength = 0
        var head: [String] = []
        while true {
            if headerEnd == nil, let found = received.range(of: separator) {
                headerEnd = found
                head = String(decoding: received[..<found.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
                let headers = Self.headers(head)
                expectedLength = Int(headers["content-length"] ?? "0") ?? 0
                if headers["expect"]?.lowercased() == "100-continue" {
                    self.send("HTTP/1.1 100 Continue\r\n\r\n", connection)
                }
            }
            if let headerEnd, received.count - headerEnd.upperBound >= expectedLength { break }
            let count = recv(connection, &buffer, buffer.count, 0)
            guard count > 0 else { return }
            received.append(contentsOf: buffer[0..<count])
        }
        let requestLine = head.first?.split(separator: " ") ?? []
        let request = Request(
            method: requestLine.first.map(String.init) ?? "",
            path: requestLine.dropFirst().first.map(String.init) ?? "",
            headers: Self.headers(head),
            body: Data(received[headerEnd!.upperBound...].prefix(expectedLength))
        )
        let status = self.state.withLock { state in
            state.requests.append(request)
            return state.statuses.isEmpty ? 200 : state.statuses.removeFirst()
        }
        self.send("HTTP/1.1 \(status) Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", connection)
    }

    private static func headers(_ head: [String]) -> [String: String] {
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return headers
    }

    private func send(_ text: String, _ connection: Int32) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            sent += count
        }
    }
}

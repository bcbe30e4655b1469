/// An error of the phone relay itself (TLS failures of the uplink surface as the engine's
/// `GatewayTLSError`).
public struct RelayError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case uplinkClosed
            case notConnected
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The uplink closed before the gateway's HTTP/2 settings arrived: the gateway refused
        /// the phone or went away during the handshake.
        public static let uplinkClosed = Code(.uplinkClosed)
        /// The relay was asked to carry pump links before its uplink was connected.
        public static let notConnected = Code(.notConnected)

        public var description: String { self.base.rawValue }
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
    public var description: String { "relay \(self.code): \(self.reason)" }
}

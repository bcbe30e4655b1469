/// Why a relay stream (one pump link inside the phone's uplink) ended abnormally.
public struct RelayFramingError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case notAPumpLink
            case refusedByGateway
            case unexpectedFrame
            case writeBeforeOpen
            case outboundLimitExceeded
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Gateway: the stream's request headers do not open a pump link (method or path).
        public static let notAPumpLink = Code(.notAPumpLink)
        /// Relay: the gateway answered the stream's request with a status other than 200.
        public static let refusedByGateway = Code(.refusedByGateway)
        /// A frame arrived that the relay format does not allow in the stream's state (DATA
        /// before the headers, a second HEADERS, a push promise).
        public static let unexpectedFrame = Code(.unexpectedFrame)
        /// Bytes were written to a stream that is not open (yet, or any more).
        public static let writeBeforeOpen = Code(.writeBeforeOpen)
        /// More than ``RelayWireFormat/maximumPendingBytesPerStream`` bytes were written to the
        /// stream and not yet sent: the peer keeps its window shut. The stream is closed
        /// rather than buffered further.
        public static let outboundLimitExceeded = Code(.outboundLimitExceeded)

        public var description: String { self.base.rawValue }
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
    public var description: String { "relay stream \(self.code): \(self.reason)" }
}

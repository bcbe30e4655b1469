/// A malformed inner frame. Any of these ends the tunnel: a peer that sends a bad frame
/// inside an authenticated channel is broken or compromised.
public struct TunnelProtocolError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unknownType
            case badLength
            case invalidField
            case bufferLimitExceeded
            case unsupportedVersion
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The frame's type byte is not in the spec table.
        public static let unknownType = Code(.unknownType)
        /// The body length is not the one its type requires.
        public static let badLength = Code(.badLength)
        /// A field holds a value the spec does not allow.
        public static let invalidField = Code(.invalidField)
        /// More unread bytes are buffered than one maximal frame.
        public static let bufferLimitExceeded = Code(.bufferLimitExceeded)
        /// A format version this side does not read.
        public static let unsupportedVersion = Code(.unsupportedVersion)

        public var description: String { self.base.rawValue }
    }

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: @autoclosure () -> String) {
        self.code = code
        // The firmware (Embedded Swift) keeps the stable code and drops the English: the reasons'
        // literals and string building cost the pump's flash (firmware-profile/README.md), and
        // the gateway, which sees the code, has the words. The autoclosure is never evaluated there.
        #if hasFeature(Embedded)
        self.reason = ""
        #else
        self.reason = reason()
        #endif
    }

    public static func == (lhs: TunnelProtocolError, rhs: TunnelProtocolError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
    public var description: String { "inner frame \(self.code): \(self.reason)" }
}

/// Why the gateway's side of the command exchange refused something: a key it cannot use,
/// or an acknowledgement it cannot trust.
public struct CommandAuthorityError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidKey = "invalid_key"
            case badSignature = "bad_signature"
            case wrongSerial = "wrong_serial"
            case notTheAnswer = "not_the_answer"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A key or certificate is not an ECDSA P-256 key in PEM.
        public static let invalidKey = Code(.invalidKey)
        /// The acknowledgement's signature does not verify with the pump's certificate.
        public static let badSignature = Code(.badSignature)
        /// The acknowledgement names another pump than the certificate.
        public static let wrongSerial = Code(.wrongSerial)
        /// The acknowledgement answers another command (sequence or command digest differ).
        public static let notTheAnswer = Code(.notTheAnswer)

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

    public static func == (lhs: CommandAuthorityError, rhs: CommandAuthorityError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }
    public var description: String { "\(self.code): \(self.reason)" }
}

/// An error from the MedTunnel PKI: creating, loading, issuing or revoking certificates.
public struct PKIError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case alreadyExists
            case missingFile
            case unreadableFile
            case invalidName
            case writeFailed
            case notAuthority
            case notIssued
            case notRevoked
            case invalidReason
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A file that would be overwritten exists (for the CA: pass `--force`).
        public static let alreadyExists = Code(.alreadyExists)
        /// A file the operation needs is not there (run `pki init` first?).
        public static let missingFile = Code(.missingFile)
        /// A file is there but is not a valid PEM certificate or key.
        public static let unreadableFile = Code(.unreadableFile)
        /// A pump serial, phone id or host name is not acceptable.
        public static let invalidName = Code(.invalidName)
        /// Writing a file failed.
        public static let writeFailed = Code(.writeFailed)
        /// The CA certificate and key do not belong together.
        public static let notAuthority = Code(.notAuthority)
        /// The PKI never issued a certificate to this pump or phone (a mistyped serial or `--dir`?).
        public static let notIssued = Code(.notIssued)
        /// The pump or phone to unrevoke is not in the revocation list.
        public static let notRevoked = Code(.notRevoked)
        /// A revocation or its reversal gives no reason.
        public static let invalidReason = Code(.invalidReason)

        public var description: String { String(describing: self.base) }
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

    public static func == (lhs: PKIError, rhs: PKIError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }

    public var description: String { self.reason }
}

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
            case invalidRequest
            case requestSignatureInvalid
            case unsupportedKey
            case alreadyEnrolled
            case invalidAttribute
            case unsafeGatewayFolder
            case unsafeKeyPermissions
            case certificateMismatch
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
        /// A certificate signing request is not a PEM CSR, or names no valid device.
        public static let invalidRequest = Code(.invalidRequest)
        /// A CSR's signature does not verify with its own public key (altered, or not made by the key's holder).
        public static let requestSignatureInvalid = Code(.requestSignatureInvalid)
        /// A key is not ECDSA P-256, the only kind the pump's mbedTLS profile accepts.
        public static let unsupportedKey = Code(.unsupportedKey)
        /// The CA already enrolled this serial or phone id (pass `--replace` to enroll a new key for it).
        public static let alreadyEnrolled = Code(.alreadyEnrolled)
        /// A pump model or firmware name is empty, too long or has characters other than printable ASCII.
        public static let invalidAttribute = Code(.invalidAttribute)
        /// The gateway's PKI folder holds what the gateway must not have (a CA key, a device key), or is the
        /// PKI root instead of its `gateway/` folder.
        public static let unsafeGatewayFolder = Code(.unsafeGatewayFolder)
        /// A private key file is readable or writable by its group or by others.
        public static let unsafeKeyPermissions = Code(.unsafeKeyPermissions)
        /// A certificate to install is not for this device's key or identity, or not from the trusted CA.
        public static let certificateMismatch = Code(.certificateMismatch)

        public var description: String { String(describing: self.base) }
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

    public static func == (lhs: PKIError, rhs: PKIError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }

    public var description: String { self.reason }
}

public import MedTunnelIdentity

/// An error from the gateway's TLS engine. Every OpenSSL failure becomes one of these,
/// carrying the drained OpenSSL error queue and, for certificate failures, the X.509
/// verification result.
public struct GatewayTLSError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case configuration
            case privateKeyMismatch
            case certificateRejected
            case certificateRevoked
            case noPeerCertificate
            case identityRejected
            case unsupportedProtocolVersion
            case noSharedCipher
            case extendedMasterSecretMissing
            case renegotiationRefused
            case peerRefused
            case recordRejected
            case truncated
            case handshakeTimeout
            case bufferLimitExceeded
            case handshakeFailed
            case protocolViolation
            case closed
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The configuration (certificate, key, CA, cipher list) was not accepted by OpenSSL.
        public static let configuration = Code(.configuration)
        /// The private key given is not the key of the certificate given.
        public static let privateKeyMismatch = Code(.privateKeyMismatch)
        /// The peer's certificate did not verify (other CA, expired, wrong key usage…);
        /// ``GatewayTLSError/verifyFailure`` says why.
        public static let certificateRejected = Code(.certificateRejected)
        /// The peer's certificate names a revoked pump or phone (full or resumed handshake).
        public static let certificateRevoked = Code(.certificateRevoked)
        /// The client sent no certificate although one is required.
        public static let noPeerCertificate = Code(.noPeerCertificate)
        /// The certificate verified but does not name the kind of device this listener serves
        /// (a pump certificate offered as a phone's, or no MedTunnel identity at all).
        public static let identityRejected = Code(.identityRejected)
        /// The peer offered only protocol versions this profile refuses (e.g. TLS 1.3 to the
        /// pump profile, which is TLS 1.2 only).
        public static let unsupportedProtocolVersion = Code(.unsupportedProtocolVersion)
        /// The peer offered no cipher suite, group or signature algorithm of this profile.
        public static let noSharedCipher = Code(.noSharedCipher)
        /// The client did not offer the extended master secret (RFC 7627), which is required.
        public static let extendedMasterSecretMissing = Code(.extendedMasterSecretMissing)
        /// The peer tried to renegotiate; renegotiation is never allowed and ends the session.
        public static let renegotiationRefused = Code(.renegotiationRefused)
        /// The peer aborted the handshake with a fatal alert (it refused us).
        public static let peerRefused = Code(.peerRefused)
        /// A record failed authentication or decoding (bit flip, injected or foreign record).
        public static let recordRejected = Code(.recordRejected)
        /// The transport ended inside a record or without close_notify.
        public static let truncated = Code(.truncated)
        /// The handshake did not finish within the configured time.
        public static let handshakeTimeout = Code(.handshakeTimeout)
        /// The peer sent more than the engine buffers.
        public static let bufferLimitExceeded = Code(.bufferLimitExceeded)
        /// Any other handshake failure; the OpenSSL error queue says more.
        public static let handshakeFailed = Code(.handshakeFailed)
        /// Any other protocol failure after the handshake.
        public static let protocolViolation = Code(.protocolViolation)
        /// The session is closed or failed; nothing more can be sent or received.
        public static let closed = Code(.closed)

        public var description: String { self.base.rawValue }
    }

    /// The X.509 verification failure behind ``Code/certificateRejected``.
    public struct VerifyFailure: Hashable, Sendable {
        /// OpenSSL's `X509_V_ERR_*` number.
        public let code: Int32
        public let message: String
    }

    public let code: Code
    public let reason: String
    public let verifyFailure: VerifyFailure?
    /// The device the refused certificate named, when it was read before the refusal
    /// (revoked, wrong kind of device): lets the gateway name who tried.
    public let claimedIdentity: DeviceIdentity?
    /// The OpenSSL error queue drained at the failure, oldest first.
    public let openSSLErrors: [String]
    public let file: String
    public let line: Int

    init(
        _ code: Code,
        _ reason: String,
        verifyFailure: VerifyFailure? = nil,
        claimedIdentity: DeviceIdentity? = nil,
        openSSLErrors: [String] = [],
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.reason = reason
        self.verifyFailure = verifyFailure
        self.claimedIdentity = claimedIdentity
        self.openSSLErrors = openSSLErrors
        self.file = file
        self.line = line
    }

    public static func == (lhs: GatewayTLSError, rhs: GatewayTLSError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }

    /// The code as security events name it: `truncated` splits into `truncatedInRecord` (the
    /// bytes stopped inside a record: something cut it) and `truncated` (the link ended between
    /// records without close_notify: a dropped link, ordinary for a pump's radio).
    public var eventReason: String {
        if self.code == .truncated && self.reason.contains("inside a record") { return "truncatedInRecord" }
        return "\(self.code)"
    }

    public var description: String {
        var text = "TLS \(self.code): \(self.reason)"
        if let verify = self.verifyFailure { text += " (X.509 error \(verify.code): \(verify.message))" }
        if !self.openSSLErrors.isEmpty { text += " [" + self.openSSLErrors.joined(separator: "; ") + "]" }
        return text
    }
}

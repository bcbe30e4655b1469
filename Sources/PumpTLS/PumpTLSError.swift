// The pump TLS engine's public error: a code (a struct wrapping a private enum, so new
// codes are not a breaking change), a reason that names what happened and what to do,
// and the mbedTLS details behind it. Equality is on `code` only.

/// An error from the pump's TLS engine. Compare with `code`; read `reason` for the details.
public struct PumpTLSError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable {
            case invalidConfiguration
            case peerCertificateUntrusted
            case peerCertificateExpired
            case peerCertificateNameMismatch
            case peerCertificateRejected
            case peerRejectedHandshake
            case peerRejectedProtocolVersion
            case peerRejectedCertificate
            case peerAlert
            case unsupportedProtocolVersion
            case extendedMasterSecretMissing
            case renegotiationRefused
            case badRecordMAC
            case protocolError
            case peerClosed
            case truncated
            case inboundBufferFull
            case outboundBufferFull
            case notEstablished
            case closed
            case internalError
        }

        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// A PEM input, the cipher suite list or the random generator could not be set up.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The gateway's certificate does not chain to the pinned CA.
        public static let peerCertificateUntrusted = Code(.peerCertificateUntrusted)
        /// The gateway's certificate (or its chain) is expired or not yet valid.
        public static let peerCertificateExpired = Code(.peerCertificateExpired)
        /// The gateway's certificate does not name the expected server name.
        public static let peerCertificateNameMismatch = Code(.peerCertificateNameMismatch)
        /// The gateway's certificate failed verification for another reason (usage, key, hash).
        public static let peerCertificateRejected = Code(.peerCertificateRejected)
        /// The gateway sent a handshake_failure (or insufficient_security) alert: no common suite or curve.
        public static let peerRejectedHandshake = Code(.peerRejectedHandshake)
        /// The gateway sent a protocol_version alert: it does not speak TLS 1.2.
        public static let peerRejectedProtocolVersion = Code(.peerRejectedProtocolVersion)
        /// The gateway refused the pump's certificate (bad_certificate, unknown_ca, expired, revoked...).
        public static let peerRejectedCertificate = Code(.peerRejectedCertificate)
        /// The gateway sent another fatal alert (see `alert`).
        public static let peerAlert = Code(.peerAlert)
        /// The gateway chose a protocol version other than TLS 1.2.
        public static let unsupportedProtocolVersion = Code(.unsupportedProtocolVersion)
        /// The gateway did not negotiate the extended master secret (RFC 7627).
        public static let extendedMasterSecretMissing = Code(.extendedMasterSecretMissing)
        /// The gateway asked to renegotiate (HelloRequest); the pump never renegotiates.
        public static let renegotiationRefused = Code(.renegotiationRefused)
        /// An inbound record failed authentication (bad_record_mac): it was altered in transit.
        public static let badRecordMAC = Code(.badRecordMAC)
        /// The gateway sent a malformed or unexpected message or record.
        public static let protocolError = Code(.protocolError)
        /// The gateway sent close_notify: the session is over.
        public static let peerClosed = Code(.peerClosed)
        /// The transport ended without close_notify (possible truncation attack).
        public static let truncated = Code(.truncated)
        /// More ciphertext was fed than the engine buffers (`PumpTLSLimits.maxBufferedCiphertext`).
        public static let inboundBufferFull = Code(.inboundBufferFull)
        /// Ciphertext waiting to be sent exceeds `PumpTLSLimits.maxBufferedOutbound`; call `takeOutbound()`.
        public static let outboundBufferFull = Code(.outboundBufferFull)
        /// Application data was written before the handshake finished.
        public static let notEstablished = Code(.notEstablished)
        /// The connection is closed or failed.
        public static let closed = Code(.closed)
        /// mbedTLS failed in a way that is not the peer's doing.
        public static let internalError = Code(.internalError)

        public var description: String {
            switch self.backing {
            case .invalidConfiguration: return "invalidConfiguration"
            case .peerCertificateUntrusted: return "peerCertificateUntrusted"
            case .peerCertificateExpired: return "peerCertificateExpired"
            case .peerCertificateNameMismatch: return "peerCertificateNameMismatch"
            case .peerCertificateRejected: return "peerCertificateRejected"
            case .peerRejectedHandshake: return "peerRejectedHandshake"
            case .peerRejectedProtocolVersion: return "peerRejectedProtocolVersion"
            case .peerRejectedCertificate: return "peerRejectedCertificate"
            case .peerAlert: return "peerAlert"
            case .unsupportedProtocolVersion: return "unsupportedProtocolVersion"
            case .extendedMasterSecretMissing: return "extendedMasterSecretMissing"
            case .renegotiationRefused: return "renegotiationRefused"
            case .badRecordMAC: return "badRecordMAC"
            case .protocolError: return "protocolError"
            case .peerClosed: return "peerClosed"
            case .truncated: return "truncated"
            case .inboundBufferFull: return "inboundBufferFull"
            case .outboundBufferFull: return "outboundBufferFull"
            case .notEstablished: return "notEstablished"
            case .closed: return "closed"
            case .internalError: return "internalError"
            }
        }
    }

    public let code: Code
    /// What happened and what to do about it.
    public let reason: String
    /// The mbedTLS error code (negative), or 0 when the error is the engine's own.
    public let mbedTLSError: Int32
    /// mbedTLS' text for `mbedTLSError` (mbedtls_strerror), empty when 0.
    public let mbedTLSErrorText: String
    /// X.509 verification failures of the gateway's certificate ("not trusted", "expired", ...).
    public let verifyFailures: [String]
    /// The alert description the peer sent, when the error is an alert from the peer.
    public let alert: UInt8?
    public let file: String
    public let line: Int

    init(
        _ code: Code,
        _ reason: @autoclosure () -> String,
        mbedTLSError: Int32 = 0,
        mbedTLSErrorText: String = "",
        verifyFailures: [String] = [],
        alert: UInt8? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        // The firmware (Embedded Swift) keeps the stable code and drops the English: the reasons'
        // literals and string building cost the pump's flash (firmware-profile/README.md), and
        // the gateway, which sees the code, has the words. The autoclosure is never evaluated there.
        #if hasFeature(Embedded)
        self.reason = ""
        #else
        self.reason = reason()
        #endif
        self.mbedTLSError = mbedTLSError
        self.mbedTLSErrorText = mbedTLSErrorText
        self.verifyFailures = verifyFailures
        self.alert = alert
        self.file = file
        self.line = line
    }

    public static func == (lhs: PumpTLSError, rhs: PumpTLSError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }

    public var description: String {
        var text = "PumpTLSError.\(self.code): \(self.reason)"
        if self.mbedTLSError != 0 {
            text +=
                " [mbedTLS -0x\(String(UInt32(bitPattern: -self.mbedTLSError), radix: 16)): \(self.mbedTLSErrorText)]"
        }
        if !self.verifyFailures.isEmpty {
            text += " [verify: \(self.verifyFailures.joined(separator: ", "))]"
        }
        if let alert = self.alert { text += " [alert \(alert)]" }
        return text
    }

    /// With where in the source it was made, for a developer's log; users see ``description``.
    public var debugDescription: String { "\(self.description) (\(self.file):\(self.line))" }
}

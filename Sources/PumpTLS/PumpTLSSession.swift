internal import CMbedTLS

/// A TLS session the pump can resume on its next connection (session-id resumption; the
/// pump does not use tickets). Holds the master secret: keep it in RAM only, never log it.
/// Create it with `PumpTLSConnection.exportSession()`, pass it to the next
/// `PumpTLSConnection(configuration:serverName:resuming:)`.
public final class PumpTLSSession {
    let session: UnsafeMutablePointer<mbedtls_ssl_session>

    init() {
        self.session = .allocate(capacity: 1)
        mbedtls_ssl_session_init(self.session)
    }

    deinit {
        mbedtls_ssl_session_free(self.session)  // zeroizes the master secret
        self.session.deallocate()
    }

    /// The session id the gateway assigned (sent in the clear in every ClientHello; not secret).
    public var sessionID: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let count = out.withUnsafeMutableBufferPointer { medtunnel_session_id(self.session, $0.baseAddress) }
        return Array(out.prefix(count))
    }

    /// The cipher suite the session was established with.
    public var cipherSuite: PumpTLSCipherSuite? {
        PumpTLSCipherSuite(ianaValue: self.session.pointee.ciphersuite)
    }
}

@available(*, unavailable)
extension PumpTLSSession: Sendable {}

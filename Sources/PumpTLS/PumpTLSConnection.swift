internal import CMbedTLS

/// Where a pump TLS connection is. A failed connection stays failed: build a new one.
public enum PumpTLSState: Hashable, CustomStringConvertible {
    /// The handshake runs (also before `startHandshake()`).
    case handshaking
    /// Application data may flow.
    case established
    /// close_notify was sent or received; buffered plaintext can still be read.
    case closed
    /// The connection failed; nothing more is decrypted or delivered.
    case failed(PumpTLSError)

    public var description: String {
        switch self {
        case .handshaking: return "handshaking"
        case .established: return "established"
        case .closed: return "closed"
        case .failed(let error): return "failed(\(error))"
        }
    }
}

/// A sans-IO mbedTLS 2.28 TLS 1.2 client: the pump's end of the inner tunnel.
///
/// Bytes in, bytes out; the engine never touches a socket:
/// ```
/// let tls = try PumpTLSConnection(configuration: config, serverName: "gateway.example")
/// tls.startHandshake()
/// link.send(tls.takeOutbound())            // one chunk per flight
/// tls.feed(ciphertext: link.receive())     // repeat, sending takeOutbound() each time
/// // once tls.state == .established:
/// try tls.write(plaintext: message); link.send(tls.takeOutbound())
/// let received = tls.readPlaintext()
/// ```
/// After a failure, `takeOutbound()` may still hold the fatal alert for the peer: send it.
/// Plaintext not yet read when the connection fails is discarded (fail closed).
public final class PumpTLSConnection {
    /// The configuration; kept alive as long as the connection (mbedTLS points into it).
    public let configuration: PumpTLSConfiguration
    public private(set) var state: PumpTLSState = .handshaking
    /// Whether the handshake resumed the offered session (abbreviated handshake).
    public private(set) var isResumed = false
    /// The cipher suite negotiated, once established.
    public private(set) var negotiatedCipherSuite: PumpTLSCipherSuite?
    /// The subject CN of the verified gateway certificate, once established.
    public private(set) var peerCommonName: String?
    /// Whether the gateway sent close_notify.
    public private(set) var peerSentCloseNotify = false

    let ssl: UnsafeMutablePointer<mbedtls_ssl_context>
    let buffers = PumpTLSIOBuffers()
    private var plaintext: [UInt8] = []
    private var sawServerHello = false
    /// Set once nothing more may be read: the peer's close_notify arrived, or we closed mid-handshake.
    private var readsStopped = false
    /// Whether `close()` ended the session (rather than the gateway's close_notify).
    private var closedByUs = false
    private var exportedSession: PumpTLSSession?

    /// - Parameters:
    ///   - configuration: the pump profile (shared by all connections).
    ///   - serverName: the gateway's DNS name: sent as SNI and checked against the certificate's
    ///     SAN/CN. nil skips the name check (the pinned CA still applies).
    ///   - session: a session from an earlier connection's `exportSession()` to resume.
    public init(
        configuration: PumpTLSConfiguration,
        serverName: String? = nil,
        resuming session: PumpTLSSession? = nil
    ) throws(PumpTLSError) {
        self.configuration = configuration
        self.ssl = .allocate(capacity: 1)
        mbedtls_ssl_init(self.ssl)
        // From here on deinit frees `ssl`, also when init throws.
        var rc = mbedtls_ssl_setup(self.ssl, configuration.config)
        guard rc == 0 else {
            throw PumpTLSError(
                .internalError,
                "mbedTLS could not set up a connection (out of memory?)",
                mbedTLSError: rc,
                mbedTLSErrorText: mbedTLSErrorText(rc)
            )
        }
        if let serverName {
            rc = mbedtls_ssl_set_hostname(self.ssl, serverName)
            guard rc == 0 else {
                throw PumpTLSError(
                    .invalidConfiguration,
                    "the server name '\(serverName)' was refused: give a DNS name of at most 255 bytes",
                    mbedTLSError: rc,
                    mbedTLSErrorText: mbedTLSErrorText(rc)
                )
            }
        }
        if let session {
            rc = mbedtls_ssl_set_session(self.ssl, session.session)
            guard rc == 0 else {
                throw PumpTLSError(
                    .invalidConfiguration,
                    "the session to resume was refused: drop it and connect without one",
                    mbedTLSError: rc,
                    mbedTLSErrorText: mbedTLSErrorText(rc)
                )
            }
        }
        self.buffers.install(on: self.ssl)
    }

    deinit {
        mbedtls_ssl_free(self.ssl)  // before `buffers`, which the BIO context points to
        self.ssl.deallocate()
    }

    /// Produces the ClientHello; send `takeOutbound()` to the gateway.
    public func startHandshake() {
        self.advance()
    }

    /// Runs the handshake or decrypts buffered records as far as the buffered input allows.
    public func advance() {
        switch self.state {
        case .handshaking: self.runHandshake()
        case .established, .closed: self.decryptRecords()
        case .failed: return
        }
    }

    /// Buffers ciphertext from the gateway and processes it. Returns the resulting state.
    @discardableResult
    public func feed(ciphertext: [UInt8]) -> PumpTLSState {
        var offset = 0
        while offset < ciphertext.count {
            if case .failed = self.state { return self.state }
            let room = PumpTLSLimits.maxBufferedCiphertext - self.buffers.bufferedInbound
            guard room > 0 else {
                self.fail(
                    PumpTLSError(
                        .inboundBufferFull,
                        "more than \(PumpTLSLimits.maxBufferedCiphertext) bytes of ciphertext are waiting: "
                            + "read the plaintext (readPlaintext()) before feeding more"
                    )
                )
                return self.state
            }
            let count = min(room, ciphertext.count - offset)
            self.buffers.appendInbound(Array(ciphertext[offset..<(offset + count)]))
            offset += count
            self.advance()
        }
        return self.state
    }

    /// The ciphertext to send to the gateway, coalesced: everything produced since the last call.
    public func takeOutbound() -> [UInt8] {
        self.buffers.takeOutbound()
    }

    /// The plaintext received so far; empties the buffer and decrypts any records held back
    /// because it was full (call again until it returns nothing).
    public func readPlaintext() -> [UInt8] {
        let result = self.plaintext
        self.plaintext = []
        if case .established = self.state { self.decryptRecords() }
        return result
    }

    /// Encrypts `plaintext` into records (each at most the negotiated fragment length);
    /// send `takeOutbound()` afterwards.
    public func write(plaintext: [UInt8]) throws(PumpTLSError) {
        switch self.state {
        case .established: break
        case .handshaking:
            throw PumpTLSError(.notEstablished, "the handshake has not finished: wait for .established before writing")
        case .closed where self.peerSentCloseNotify && !self.closedByUs:
            throw PumpTLSError(.peerClosed, "the gateway closed the session (close_notify): open a new one to send")
        case .closed:
            throw PumpTLSError(.closed, "the connection is closed: open a new one to send")
        case .failed(let error):
            throw error
        }
        let records = plaintext.count / max(1, self.maxOutboundFragmentLength) + 1
        guard self.buffers.outbound.count + plaintext.count + records * 64 <= PumpTLSLimits.maxBufferedOutbound else {
            throw PumpTLSError(
                .outboundBufferFull,
                "more than \(PumpTLSLimits.maxBufferedOutbound) bytes of ciphertext would wait: "
                    + "send takeOutbound() first or write less at once"
            )
        }
        var offset = 0
        while offset < plaintext.count {
            let rc = plaintext.withUnsafeBufferPointer {
                mbedtls_ssl_write(self.ssl, $0.baseAddress! + offset, $0.count - offset)
            }
            switch self.translate(rc) {
            case .complete(let written):
                offset += written
            case .incomplete:
                // The send callback never blocks, so mbedTLS cannot want to write later.
                let error = PumpTLSError(.internalError, "mbedTLS could not write although the buffer has room")
                self.fail(error)
                throw error
            case .failed(let error):
                self.fail(error)
                throw error
            }
        }
    }

    /// Sends close_notify (take it with `takeOutbound()`). Plaintext already received can still be read.
    public func close() {
        if case .failed = self.state { return }
        if case .closed = self.state { return }
        self.closedByUs = true
        switch self.state {
        case .established:
            _ = mbedtls_ssl_close_notify(self.ssl)
            self.state = .closed
        case .handshaking:
            self.readsStopped = true  // do not let mbedtls_ssl_read resume the handshake
            self.state = .closed
        case .closed, .failed:
            return
        }
    }

    /// The link under the TLS ended. Without a close_notify before it this is a failure
    /// (`.truncated`): the gateway's last records may have been cut off.
    public func transportClosed() {
        switch self.state {
        case .handshaking, .established:
            self.fail(
                PumpTLSError(
                    .truncated,
                    "the link closed without close_notify: data may have been cut off; reconnect and retry"
                )
            )
        case .closed, .failed:
            return
        }
    }

    /// The session to resume on the next connection. Needs a finished handshake.
    public func exportSession() throws(PumpTLSError) -> PumpTLSSession {
        if let exportedSession { return exportedSession }
        guard self.negotiatedCipherSuite != nil else {
            throw PumpTLSError(.notEstablished, "no session to export: finish a handshake first")
        }
        if case .failed(let error) = self.state { throw error }
        let session = PumpTLSSession()
        let rc = mbedtls_ssl_get_session(self.ssl, session.session)
        guard rc == 0 else {
            throw PumpTLSError(
                .internalError,
                "mbedTLS could not copy the session: connect without resumption",
                mbedTLSError: rc,
                mbedTLSErrorText: mbedTLSErrorText(rc)
            )
        }
        self.exportedSession = session
        return session
    }

    /// The largest plaintext per outbound record (the negotiated max_fragment_length, or 16384).
    public var maxOutboundFragmentLength: Int {
        Int(mbedtls_ssl_get_output_max_frag_len(self.ssl))
    }

    /// The mbedTLS name of the negotiated suite, e.g. "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256".
    public var negotiatedCipherSuiteName: String? {
        guard self.negotiatedCipherSuite != nil, let name = mbedtls_ssl_get_ciphersuite(self.ssl) else { return nil }
        return String(cString: name)
    }

    // MARK: - Driving mbedTLS

    private func runHandshake() {
        while true {
            let rc = mbedtls_ssl_handshake_step(self.ssl)
            if !self.sawServerHello && medtunnel_ssl_state(self.ssl) > Int32(MBEDTLS_SSL_SERVER_HELLO.rawValue) {
                // ServerHello was just parsed and nothing derived from it was sent yet.
                self.sawServerHello = true
                self.isResumed = medtunnel_ssl_handshake_resumed(self.ssl) == 1
                guard medtunnel_ssl_handshake_extended_ms(self.ssl) == 1 else {
                    _ = mbedtls_ssl_send_alert_message(
                        self.ssl,
                        UInt8(MBEDTLS_SSL_ALERT_LEVEL_FATAL),
                        UInt8(MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE)
                    )
                    self.fail(
                        PumpTLSError(
                            .extendedMasterSecretMissing,
                            "the gateway did not negotiate the extended master secret (RFC 7627): "
                                + "enable it on the gateway; the pump will not connect without it"
                        )
                    )
                    return
                }
            }
            switch self.translate(rc) {
            case .incomplete:
                return
            case .failed(let error):
                self.fail(error)
                return
            case .complete:
                if medtunnel_ssl_state(self.ssl) == Int32(MBEDTLS_SSL_HANDSHAKE_OVER.rawValue) {
                    self.finishHandshake()
                    return
                }
            }
        }
    }

    private func finishHandshake() {
        guard let session = self.ssl.pointee.session,
            let suite = PumpTLSCipherSuite(ianaValue: session.pointee.ciphersuite)
        else {
            self.fail(PumpTLSError(.protocolError, "the gateway chose a cipher suite outside the pump profile"))
            return
        }
        self.negotiatedCipherSuite = suite
        self.peerCommonName = mbedtls_ssl_get_peer_cert(self.ssl).flatMap { Self.commonName(of: $0) }
        self.state = .established
        self.decryptRecords()
    }

    /// Decrypts buffered records into `plaintext` until input runs out or the plaintext cap is reached.
    private func decryptRecords() {
        var scratch = [UInt8](repeating: 0, count: 0)
        while true {
            switch self.state {
            case .established, .closed: break
            case .handshaking, .failed: return
            }
            if self.readsStopped { return }
            let room = PumpTLSLimits.maxBufferedPlaintext - self.plaintext.count
            guard room > 0 else { return }  // held back until readPlaintext()
            // One record at most per read, so no more than the negotiated fragment length: the
            // firmware's heap peaks here otherwise (a 16 KiB scratch for 1 KiB records).
            let chunk = min(room, medtunnel_ssl_max_in_record_plaintext(self.ssl))
            if scratch.count < chunk { scratch = [UInt8](repeating: 0, count: chunk) }
            let outboundBefore = self.buffers.outbound.count
            let rc = scratch.withUnsafeMutableBufferPointer { mbedtls_ssl_read(self.ssl, $0.baseAddress, chunk) }
            switch self.translate(rc) {
            case .complete(let count):
                guard count > 0 else { return }
                // After our own close_notify, data from the peer is discarded (RFC 5246 7.2.1).
                if case .established = self.state { self.plaintext.append(contentsOf: scratch[0..<count]) }
            case .incomplete:
                // A HelloRequest is refused by mbedTLS with a no_renegotiation warning alert,
                // written during this very call. Without that alert, the WANT_READ is an
                // incomplete record, whose first ciphertext byte may well be 0 where the
                // last message's type is read (1 in 256 split records ended sessions).
                let wroteAlert =
                    self.buffers.outbound.count > outboundBefore
                    && self.buffers.outbound[outboundBefore] == 21  // an alert record
                if wroteAlert, medtunnel_ssl_last_message_is_hello_request(self.ssl) == 1 {
                    self.refuseRenegotiation()
                }
                return
            case .failed(let error) where error.code == .peerClosed:
                self.peerSentCloseNotify = true
                self.readsStopped = true
                if case .established = self.state { _ = mbedtls_ssl_close_notify(self.ssl) }
                self.state = .closed
                return
            case .failed(let error):
                if case .closed = self.state { return }  // we already closed: nothing more to protect
                self.fail(error)
                return
            }
        }
    }

    /// mbedTLS answered the HelloRequest with a no_renegotiation warning; the pump goes further
    /// and ends the session: a gateway in the pump profile never renegotiates.
    private func refuseRenegotiation() {
        if case .closed = self.state { return }
        _ = mbedtls_ssl_send_alert_message(
            self.ssl,
            UInt8(MBEDTLS_SSL_ALERT_LEVEL_FATAL),
            UInt8(MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE)
        )
        self.fail(
            PumpTLSError(
                .renegotiationRefused,
                "the gateway asked to renegotiate; the pump never renegotiates: session ended, reconnect"
            )
        )
    }

    private func fail(_ error: PumpTLSError) {
        if case .failed = self.state { return }
        self.plaintext = []
        self.state = .failed(error)
    }

    private static func commonName(of certificate: UnsafePointer<mbedtls_x509_crt>) -> String? {
        let commonNameOID: [UInt8] = [0x55, 0x04, 0x03]
        var name: UnsafePointer<mbedtls_x509_name>? = medtunnel_x509_crt_subject(certificate)
        while let current = name {
            let oid = current.pointee.oid
            if oid.len == commonNameOID.count, let p = oid.p,
                Array(UnsafeBufferPointer(start: p, count: oid.len)) == commonNameOID,
                let value = current.pointee.val.p
            {
                return String(
                    decoding: UnsafeBufferPointer(start: value, count: current.pointee.val.len),
                    as: UTF8.self
                )
            }
            name = UnsafePointer(current.pointee.next)
        }
        return nil
    }
}

@available(*, unavailable)
extension PumpTLSConnection: Sendable {}

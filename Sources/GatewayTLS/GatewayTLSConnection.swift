internal import COpenSSL
public import MedTunnelIdentity

#if canImport(Glibc)
import Glibc
#endif

/// What the peer turned out to be once the handshake finished.
public struct TLSPeer: Sendable, Equatable {
    /// The pump or phone named by the verified client certificate (server side), or nil on
    /// the client side, where the gateway's host name was verified instead.
    public let identity: DeviceIdentity?
    /// True when an earlier session was resumed (no certificate exchange this time).
    public let resumed: Bool
    public let protocolVersion: String
    public let cipherSuite: String
}

/// What one call into the engine produced: ciphertext to send, in order, and events.
public struct GatewayTLSOutput: Sendable {
    public enum Event: Sendable, Equatable {
        case established(TLSPeer)
        case plaintext([UInt8])
        /// The peer sent close_notify; ours has been queued in `ciphertext`.
        case closedByPeer
        case failed(GatewayTLSError)
    }
    public var ciphertext: [UInt8] = []
    public var events: [Event] = []

    public init() {}

    /// All plaintext delivered by this output, concatenated.
    public var plaintext: [UInt8] {
        self.events.reduce(into: []) { bytes, event in
            if case .plaintext(let chunk) = event { bytes += chunk }
        }
    }

    public var failure: GatewayTLSError? {
        for case .failed(let error) in self.events { return error }
        return nil
    }
}

extension GatewayTLSOutput: GatewayTLSSink {
    mutating func appendCiphertext(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Int) {
        let start = self.ciphertext.count
        self.ciphertext += repeatElement(0, count: count)
        let written = self.ciphertext.withUnsafeMutableBytes {
            fill(UnsafeMutableRawBufferPointer(rebasing: $0[start...]))
        }
        self.ciphertext.removeLast(count - max(written, 0))
    }

    mutating func appendPlaintext(_ bytes: UnsafeRawBufferPointer) {
        self.events.append(.plaintext(Array(bytes)))
    }

    mutating func append(_ event: Event) { self.events.append(event) }
}

/// Where the engine puts what one call produced, in order. ``GatewayTLSOutput`` collects it in
/// arrays; ``GatewayTLSHandler`` in `ByteBuffer`s, so bytes go between the socket and OpenSSL
/// without passing through arrays.
protocol GatewayTLSSink {
    /// Lets `fill` write at most `count` ciphertext bytes; `fill` returns how many it wrote.
    mutating func appendCiphertext(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Int)
    /// Plaintext decrypted from the peer (copied; the bytes are only valid during the call).
    mutating func appendPlaintext(_ bytes: UnsafeRawBufferPointer)
    /// Any event but `.plaintext`.
    mutating func append(_ event: GatewayTLSOutput.Event)
}

/// A resumable TLS session (client side).
public final class GatewayTLSSession: @unchecked Sendable {
    let session: OpaquePointer
    init(_ session: OpaquePointer) { self.session = session }
    deinit { SSL_SESSION_free(self.session) }
}

/// A sans-IO TLS connection over OpenSSL with two memory BIOs: ciphertext in, plaintext and
/// ciphertext out. It never touches a socket, so it serves a pump's inner tunnel that arrives
/// as a stream inside a relay connection as well as a direct TCP connection.
///
/// Not thread-safe: drive one connection from one thread (an event loop) at a time.
public final class GatewayTLSConnection {
    public enum State: Sendable, Equatable {
        case handshaking
        case established(TLSPeer)
        case closed
        case failed(GatewayTLSError)
    }

    public private(set) var state: State = .handshaking
    public let context: GatewayTLSContext
    private let ssl: OpaquePointer
    private let inbound: OpaquePointer
    private let outbound: OpaquePointer
    /// Set by a callback that refused the peer; it explains the handshake failure that follows.
    var rejection: GatewayTLSError?
    private var verifiedIdentity: DeviceIdentity?
    private var renegotiationAttempted = false
    private var closeNotifySent = false
    /// Plaintext bytes read per `SSL_read` call.
    private static let readChunk = 16 * 1024
    /// Reused for every `SSL_read`: one allocation per connection, not per call.
    private var readBuffer = [UInt8](repeating: 0, count: GatewayTLSConnection.readChunk)

    public init(context: GatewayTLSContext, resuming session: GatewayTLSSession? = nil) throws {
        self.context = context
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx), let inbound = BIO_new(BIO_s_mem()), let outbound = BIO_new(BIO_s_mem())
        else {
            throw OpenSSLErrorQueue.configurationError("SSL_new or BIO_new failed")
        }
        self.ssl = ssl
        self.inbound = inbound
        self.outbound = outbound
        _ = c_mt_BIO_set_mem_eof_return(inbound, -1)  // empty means "wait for more", not EOF
        SSL_set_bio(ssl, inbound, outbound)  // the SSL now owns both BIOs
        _ = SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        SSL_set_msg_callback(ssl, gatewayTLSMessageCallback)
        switch context.configuration.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if case .host(let host) = context.configuration.expectedPeer {
                _ = SSL_set1_host(ssl, host)
                // SNI carries host names only, never IP literals (RFC 6066, section 3).
                if !Self.isIPLiteral(host) { _ = c_mt_SSL_set_tlsext_host_name(ssl, host) }
            }
            if let session { _ = SSL_set_session(ssl, session.session) }
        }
    }

    deinit {
        // OpenSSL forgets a session freed without close_notify. A pump's link (BLE, UART,
        // a phone) drops all the time, and the pump must then resume, so an intact session
        // or one cut by the transport is kept; one that failed on a bad record, a refused
        // peer or a renegotiation is not (OpenSSL removed it when the fatal alert went out).
        switch self.state {
        case .established, .closed:
            SSL_set_shutdown(self.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN)
        case .failed(let error) where error.code == .truncated && self.wasEstablished:
            SSL_set_shutdown(self.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN)
        case .failed, .handshaking:
            break
        }
        SSL_free(self.ssl)
    }

    private var wasEstablished = false

    static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    static func from(ssl: OpaquePointer) -> GatewayTLSConnection? {
        guard let pointer = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<GatewayTLSConnection>.fromOpaque(pointer).takeUnretainedValue()
    }

    // MARK: Driving the engine

    /// Starts the handshake. A client gets its ClientHello in `ciphertext`.
    public func start() -> GatewayTLSOutput {
        var output = GatewayTLSOutput()
        self.start(into: &output)
        return output
    }

    func start(into output: inout some GatewayTLSSink) {
        self.advance(&output)
        self.drainOutbound(&output)
    }

    /// Feeds ciphertext from the peer.
    public func feed(_ ciphertext: [UInt8]) -> GatewayTLSOutput {
        var output = GatewayTLSOutput()
        ciphertext.withUnsafeBytes { self.feed($0, into: &output) }
        return output
    }

    func feed(_ ciphertext: UnsafeRawBufferPointer, into output: inout some GatewayTLSSink) {
        var offset = 0
        while offset < ciphertext.count, self.isOpen {
            // OpenSSL pulls what the BIO holds into its own record buffer (one record at most)
            // on every `advance`, so this cap is a backstop: bytes are written in slices that
            // can never make the BIO hold more than the cap.
            let room = self.context.configuration.maximumBufferedCiphertext - Int(BIO_ctrl_pending(self.inbound))
            guard room > 0 else {
                self.fail(
                    GatewayTLSError(
                        .bufferLimitExceeded,
                        "the peer sent more than \(self.context.configuration.maximumBufferedCiphertext) bytes without completing a record"
                    ),
                    &output
                )
                break
            }
            let count = min(room, ciphertext.count - offset)
            _ = BIO_write(self.inbound, ciphertext.baseAddress! + offset, Int32(count))
            offset += count
            self.advance(&output)
        }
        self.drainOutbound(&output)
    }

    /// Encrypts application data. Fails unless the session is established.
    public func send(_ plaintext: [UInt8]) -> GatewayTLSOutput {
        var output = GatewayTLSOutput()
        plaintext.withUnsafeBytes { self.send($0, into: &output) }
        return output
    }

    /// Why nothing can be sent now, or nil while the session is established.
    var sendRefusal: GatewayTLSError? {
        if case .established = self.state { return nil }
        return GatewayTLSError(.closed, "cannot send: the session is \(self.state)")
    }

    func send(_ plaintext: UnsafeRawBufferPointer, into output: inout some GatewayTLSSink) {
        if let refusal = self.sendRefusal {
            output.append(.failed(refusal))
            return
        }
        var offset = 0
        while offset < plaintext.count {
            ERR_clear_error()
            let count = min(plaintext.count - offset, Int(Int32.max))
            let result = SSL_write(self.ssl, plaintext.baseAddress! + offset, Int32(count))
            switch self.step(result) {
            case .complete(let written): offset += written
            case .incomplete: offset = plaintext.count  // memory BIOs never block writes
            case .peerClosed: self.peerClosed(&output)
            case .failed(let error): self.fail(error, &output)
            }
            if !self.isOpen { break }
        }
        self.drainOutbound(&output)
    }

    /// Sends close_notify. The session accepts no more data.
    public func close() -> GatewayTLSOutput {
        var output = GatewayTLSOutput()
        self.close(into: &output)
        return output
    }

    func close(into output: inout some GatewayTLSSink) {
        if case .established = self.state { self.sendCloseNotify() }
        if self.isOpen { self.state = .closed }
        self.drainOutbound(&output)
    }

    /// The transport ended. Without a prior close_notify this is a truncation.
    public func transportClosed() -> GatewayTLSOutput {
        var output = GatewayTLSOutput()
        self.transportClosed(into: &output)
        return output
    }

    func transportClosed(into output: inout some GatewayTLSSink) {
        if self.isOpen {
            // Bytes of a record not yet whole, in the BIO or OpenSSL's record buffer: the link
            // was cut inside a record, not merely dropped between records.
            let partial = BIO_ctrl_pending(self.inbound) > 0 || SSL_has_pending(self.ssl) == 1
            self.fail(
                GatewayTLSError(
                    .truncated,
                    partial
                        ? "the transport ended inside a record, without close_notify"
                        : "the transport ended without close_notify"
                ),
                &output
            )
        }
    }

    /// Aborts a handshake that has run out of time; does nothing once established.
    public func handshakeTimedOut() -> GatewayTLSOutput {
        var output = GatewayTLSOutput()
        self.handshakeTimedOut(into: &output)
        return output
    }

    func handshakeTimedOut(into output: inout some GatewayTLSSink) {
        if case .handshaking = self.state {
            self.fail(
                GatewayTLSError(
                    .handshakeTimeout,
                    "the handshake did not finish within \(self.context.configuration.handshakeTimeoutMilliseconds) ms"
                ),
                &output
            )
        }
    }

    /// The session to resume on the next connection (client side), once established.
    public func resumableSession() -> GatewayTLSSession? {
        guard case .established = self.state, let session = SSL_get1_session(self.ssl) else { return nil }
        return GatewayTLSSession(session)
    }

    /// Starts a TLS 1.2 renegotiation (client side). MedTunnel never renegotiates; this exists
    /// so tests can play the peer that tries.
    public func attemptRenegotiation() -> GatewayTLSOutput {
        var output = GatewayTLSOutput()
        ERR_clear_error()
        _ = SSL_renegotiate(self.ssl)
        _ = SSL_do_handshake(self.ssl)
        ERR_clear_error()
        self.drainOutbound(&output)
        return output
    }

    // MARK: Internals

    private var isOpen: Bool {
        switch self.state {
        case .handshaking, .established: return true
        case .closed, .failed: return false
        }
    }

    /// Runs the handshake, then reads every complete record.
    private func advance(_ output: inout some GatewayTLSSink) {
        if case .handshaking = self.state {
            ERR_clear_error()
            switch self.step(SSL_do_handshake(self.ssl)) {
            case .incomplete: return
            case .complete: self.handshakeFinished(&output)
            case .peerClosed:
                self.fail(GatewayTLSError(.handshakeFailed, "the peer closed during the handshake"), &output)
            case .failed(let error): self.fail(error, &output)
            }
        }
        while case .established = self.state {
            ERR_clear_error()
            let result = self.readBuffer.withUnsafeMutableBytes { SSL_read(self.ssl, $0.baseAddress, Int32($0.count)) }
            if self.renegotiationAttempted {
                self.fail(
                    GatewayTLSError(.renegotiationRefused, "the peer tried to renegotiate; this session is ended"),
                    &output
                )
                return
            }
            switch self.step(result) {
            case .complete(let count):
                self.readBuffer.withUnsafeBytes {
                    output.appendPlaintext(UnsafeRawBufferPointer(rebasing: $0[0..<count]))
                }
            case .incomplete: return
            case .peerClosed: self.peerClosed(&output)
            case .failed(let error): self.fail(error, &output)
            }
        }
    }

    private func handshakeFinished(_ output: inout some GatewayTLSSink) {
        let version = String(cString: SSL_get_version(self.ssl))
        let isTLS12 = SSL_version(self.ssl) == TLS1_2_VERSION
        if self.context.configuration.role == .server {
            if self.context.configuration.requireExtendedMasterSecret && isTLS12
                && c_mt_SSL_get_extms_support(self.ssl) != 1
            {
                self.fail(
                    GatewayTLSError(.extendedMasterSecretMissing, "the session has no extended master secret"),
                    &output
                )
                return
            }
            // Defence in depth: the callbacks checked the identity already, full or resumed. A
            // listener for any client (the operator API) asks for no certificate: its callers
            // authenticate inside the session.
            if self.context.configuration.expectedPeer != .anyClient {
                guard let peer = SSL_get0_peer_certificate(self.ssl) else {
                    self.fail(GatewayTLSError(.noPeerCertificate, "the client presented no certificate"), &output)
                    return
                }
                if let rejection = self.checkPeerCertificate(peer) {
                    self.fail(rejection, &output)
                    return
                }
            }
        }
        let cipher = SSL_get_current_cipher(self.ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? "?"
        let peer = TLSPeer(
            identity: self.verifiedIdentity,
            resumed: SSL_session_reused(self.ssl) == 1,
            protocolVersion: version,
            cipherSuite: cipher
        )
        self.wasEstablished = true
        self.state = .established(peer)
        output.append(.established(peer))
    }

    /// Checks a verified leaf certificate against what this context serves; records the
    /// identity on success. Returns the refusal otherwise.
    func checkPeerCertificate(_ certificate: OpaquePointer) -> GatewayTLSError? {
        let expected = self.context.configuration.expectedPeer
        guard expected == .pump || expected == .phone else { return nil }
        let count = c_mt_san_uri_count(certificate)
        var identities: [DeviceIdentity] = []
        var buffer = [CChar](repeating: 0, count: 256)
        for index in 0..<count {
            let length = c_mt_san_uri_at(certificate, index, &buffer, Int32(buffer.count))
            guard length >= 0 else { continue }
            let uri = String(decoding: buffer[0..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let identity = DeviceIdentity(uri: uri) { identities.append(identity) }
        }
        guard identities.count == 1, let identity = identities.first else {
            return self.reject(
                GatewayTLSError(
                    .identityRejected,
                    "the certificate carries \(identities.count) MedTunnel identities; exactly one is required"
                )
            )
        }
        let kindMatches: Bool
        switch (expected, identity) {
        case (.pump, .pump), (.phone, .phone): kindMatches = true
        default: kindMatches = false
        }
        guard kindMatches else {
            return self.reject(
                GatewayTLSError(
                    .identityRejected,
                    "a \(identity) certificate was offered where a \(expected) is required",
                    claimedIdentity: identity
                )
            )
        }
        var commonName = [CChar](repeating: 0, count: 128)
        let length = X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, &commonName, 128)
        let cn =
            length > 0 ? String(decoding: commonName[0..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        guard cn == identity.name else {
            return self.reject(
                GatewayTLSError(.identityRejected, "the certificate's common name does not match its \(identity)")
            )
        }
        if self.context.isRevoked(identity) {
            return self.reject(
                GatewayTLSError(.certificateRevoked, "\(identity) is revoked", claimedIdentity: identity)
            )
        }
        self.verifiedIdentity = identity
        return nil
    }

    private func reject(_ error: GatewayTLSError) -> GatewayTLSError {
        self.rejection = error
        return error
    }

    private func peerClosed(_ output: inout some GatewayTLSSink) {
        self.sendCloseNotify()
        self.state = .closed
        output.append(.closedByPeer)
    }

    private func sendCloseNotify() {
        guard !self.closeNotifySent else { return }
        self.closeNotifySent = true
        ERR_clear_error()
        _ = SSL_shutdown(self.ssl)
        ERR_clear_error()
    }

    private func fail(_ error: GatewayTLSError, _ output: inout some GatewayTLSSink) {
        guard self.isOpen else { return }
        self.state = .failed(error)
        output.append(.failed(error))
    }

    private func drainOutbound(_ output: inout some GatewayTLSSink) {
        let pending = Int(BIO_ctrl_pending(self.outbound))
        guard pending > 0 else { return }
        output.appendCiphertext(count: pending) { Int(BIO_read(self.outbound, $0.baseAddress!, Int32(pending))) }
    }

    fileprivate func noteInboundRecord(contentType: UInt8) {
        // In TLS 1.2 no handshake record may arrive after the handshake: it is a renegotiation.
        if contentType == 22, case .established = self.state, SSL_version(self.ssl) == TLS1_2_VERSION {
            self.renegotiationAttempted = true
        }
    }

    // MARK: The one place where OpenSSL return codes are translated

    private enum Step {
        case complete(Int)
        case incomplete
        case peerClosed
        case failed(GatewayTLSError)
    }

    private func step(_ result: Int32) -> Step {
        if result > 0 { return .complete(Int(result)) }
        let code = SSL_get_error(self.ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .incomplete
        case SSL_ERROR_ZERO_RETURN:
            return .peerClosed
        default:
            return .failed(self.describeFailure())
        }
    }

    private func describeFailure() -> GatewayTLSError {
        let entries = OpenSSLErrorQueue.drain()
        let texts = entries.map(\.text)
        if let rejection = self.rejection {
            return GatewayTLSError(
                rejection.code,
                rejection.reason,
                claimedIdentity: rejection.claimedIdentity,
                openSSLErrors: texts
            )
        }
        let handshaking = self.state == .handshaking
        for entry in entries where entry.library == ERR_LIB_SSL {
            switch entry.reason {
            case SSL_R_CERTIFICATE_VERIFY_FAILED:
                let result = Int32(SSL_get_verify_result(self.ssl))
                let message = String(cString: X509_verify_cert_error_string(Int(result)))
                return GatewayTLSError(
                    result == X509_V_ERR_CERT_REVOKED ? .certificateRevoked : .certificateRejected,
                    "the peer's certificate was refused: \(message)",
                    verifyFailure: .init(code: result, message: message),
                    openSSLErrors: texts
                )
            case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
                return GatewayTLSError(.noPeerCertificate, "the client presented no certificate", openSSLErrors: texts)
            case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_NO_PROTOCOLS_AVAILABLE, SSL_R_UNKNOWN_PROTOCOL,
                SSL_R_WRONG_VERSION_NUMBER where handshaking:
                return GatewayTLSError(
                    .unsupportedProtocolVersion,
                    "the peer offered no protocol version this profile allows",
                    openSSLErrors: texts
                )
            case SSL_R_NO_SHARED_CIPHER, SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS, SSL_R_NO_SUITABLE_KEY_SHARE,
                SSL_R_NO_SHARED_GROUPS, SSL_R_NO_CIPHERS_AVAILABLE:
                return GatewayTLSError(
                    .noSharedCipher,
                    "the peer offered no cipher suite, group or signature algorithm of this profile",
                    openSSLErrors: texts
                )
            case SSL_R_UNEXPECTED_EOF_WHILE_READING:
                return GatewayTLSError(.truncated, "the transport ended inside a record", openSSLErrors: texts)
            case 1000..<1256:
                return GatewayTLSError(.peerRefused, "the peer sent a fatal alert: \(entry.text)", openSSLErrors: texts)
            default:
                continue
            }
        }
        if handshaking {
            return GatewayTLSError(.handshakeFailed, "the handshake failed", openSSLErrors: texts)
        }
        return GatewayTLSError(
            .recordRejected,
            "a record failed authentication or decoding; the session is ended",
            openSSLErrors: texts
        )
    }
}

@available(*, unavailable)
extension GatewayTLSConnection: Sendable {}

/// Sees every record header before OpenSSL processes the record.
private let gatewayTLSMessageCallback:
    @convention(c) (Int32, Int32, Int32, UnsafeRawPointer?, Int, OpaquePointer?, UnsafeMutableRawPointer?) -> Void = {
        isWrite,
        _,
        contentType,
        buffer,
        length,
        ssl,
        _ in
        guard isWrite == 0, contentType == SSL3_RT_HEADER, length >= 1, let buffer, let ssl,
            let connection = GatewayTLSConnection.from(ssl: ssl)
        else { return }
        connection.noteInboundRecord(contentType: buffer.load(as: UInt8.self))
    }

internal import COpenSSL
public import MedTunnelIdentity

/// An OpenSSL `SSL_CTX` configured for one MedTunnel profile. Create one per listener and
/// share it between connections: it owns the session cache. It is safe to use from any
/// thread (OpenSSL locks the cache); connections are not.
public final class GatewayTLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let configuration: GatewayTLSConfiguration
    let isRevoked: @Sendable (DeviceIdentity) -> Bool

    /// - Parameter isRevoked: consulted at every handshake, full or resumed, with the
    ///   identity from the peer certificate; `true` refuses the peer.
    public init(
        _ configuration: GatewayTLSConfiguration,
        isRevoked: @escaping @Sendable (DeviceIdentity) -> Bool = { _ in false }
    ) throws {
        self.configuration = configuration
        self.isRevoked = isRevoked
        ERR_clear_error()
        let method = configuration.role == .server ? TLS_server_method() : TLS_client_method()
        guard let ctx = SSL_CTX_new(method) else {
            throw OpenSSLErrorQueue.configurationError("SSL_CTX_new failed")
        }
        self.ctx = ctx
        try self.configure()
    }

    deinit {
        SSL_CTX_free(self.ctx)
    }

    /// Sessions in the server cache and how many handshakes resumed one.
    public var sessionCacheStatistics: (cached: Int, hits: Int) {
        (Int(c_mt_SSL_CTX_sess_number(self.ctx)), Int(c_mt_SSL_CTX_sess_hits(self.ctx)))
    }

    private func configure() throws {
        let c = self.configuration
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw OpenSSLErrorQueue.configurationError(what) }
        }
        try require(c_mt_SSL_CTX_set_min_proto_version(ctx, c.minimumVersion.rawValue) == 1, "minimum version")
        try require(c_mt_SSL_CTX_set_max_proto_version(ctx, c.maximumVersion.rawValue) == 1, "maximum version")
        if !c.cipherList.isEmpty {
            try require(SSL_CTX_set_cipher_list(ctx, c.cipherList) == 1, "cipher list '\(c.cipherList)'")
        } else {
            _ = SSL_CTX_set_cipher_list(ctx, "aNULL:!aNULL")  // no TLS 1.2 suites at all
        }
        try require(SSL_CTX_set_ciphersuites(ctx, c.cipherSuites) == 1, "TLS 1.3 suites '\(c.cipherSuites)'")
        try require(c_mt_SSL_CTX_set1_groups_list(ctx, c.groups) == 1, "groups '\(c.groups)'")
        try require(c_mt_SSL_CTX_set1_sigalgs_list(ctx, c.signatureAlgorithms) == 1, "signature algorithms")
        try require(c_mt_SSL_CTX_set1_client_sigalgs_list(ctx, c.signatureAlgorithms) == 1, "client sigalgs")

        var options = c_mt_SSL_OP_NO_COMPRESSION() | c_mt_SSL_OP_CIPHER_SERVER_PREFERENCE()
        if !c.allowsRenegotiation { options |= c_mt_SSL_OP_NO_RENEGOTIATION() }
        if c.omitsExtendedMasterSecret { options |= c_mt_SSL_OP_NO_EXTENDED_MASTER_SECRET() }
        if !c.sessionTickets { options |= c_mt_SSL_OP_NO_TICKET() }
        _ = c_mt_SSL_CTX_set_options(ctx, options)

        // A server that asks no client certificate has no trust roots to load.
        let verifiesPeer = !(c.role == .server && c.expectedPeer == .anyClient)
        if verifiesPeer || !c.trustRootsPEM.isEmpty { try self.loadTrustRoots(c.trustRootsPEM) }
        if let chain = c.certificateChainPEM, let key = c.privateKeyPEM {
            try self.loadIdentity(certificatePEM: chain, keyPEM: key)
        }

        if verifiesPeer {
            let verifyMode = SSL_VERIFY_PEER | (c.role == .server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0)
            SSL_CTX_set_verify(ctx, verifyMode, gatewayTLSVerifyCallback)
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        SSL_CTX_set_verify_depth(ctx, 2)
        _ = SSL_CTX_set_purpose(ctx, c.role == .server ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER)
        _ = SSL_CTX_set_ex_data(ctx, 0, Unmanaged.passUnretained(self).toOpaque())

        switch c.role {
        case .server:
            _ = c_mt_SSL_CTX_set_session_cache_mode(ctx, c_mt_SSL_SESS_CACHE_SERVER())
            _ = c_mt_SSL_CTX_sess_set_cache_size(ctx, c.sessionCacheSize)
            _ = SSL_CTX_set_timeout(ctx, c.sessionLifetimeSeconds)
            let contextID = Array(c.sessionIDContext.utf8)
            try require(
                SSL_CTX_set_session_id_context(ctx, contextID, UInt32(contextID.count)) == 1,
                "session id context"
            )
            // Resumed sessions skip certificate verification: the servername callback runs on
            // every ClientHello after the session lookup and re-checks the identity.
            _ = c_mt_SSL_CTX_set_tlsext_servername_callback(ctx, gatewayTLSResumptionCallback)
            if c.requireExtendedMasterSecret {
                SSL_CTX_set_client_hello_cb(ctx, gatewayTLSClientHelloCallback, nil)
            }
            if !c.alpnProtocols.isEmpty {
                SSL_CTX_set_alpn_select_cb(ctx, gatewayTLSALPNCallback, nil)
            }
        case .client:
            _ = c_mt_SSL_CTX_set_session_cache_mode(ctx, c_mt_SSL_SESS_CACHE_CLIENT())
        }
    }

    private func loadTrustRoots(_ pem: String) throws {
        let certificates = try PEMReader.certificates(pem)
        defer { for certificate in certificates { X509_free(certificate) } }
        guard !certificates.isEmpty else {
            throw GatewayTLSError(.configuration, "the trust roots contain no PEM certificate")
        }
        let store = SSL_CTX_get_cert_store(ctx)
        for certificate in certificates {
            guard X509_STORE_add_cert(store, certificate) == 1 else {
                throw OpenSSLErrorQueue.configurationError("cannot add a trust root")
            }
            if self.configuration.role == .server { _ = SSL_CTX_add_client_CA(ctx, certificate) }
        }
    }

    private func loadIdentity(certificatePEM: String, keyPEM: String) throws {
        let certificates = try PEMReader.certificates(certificatePEM)
        defer { for certificate in certificates { X509_free(certificate) } }
        guard let leaf = certificates.first else {
            throw GatewayTLSError(.configuration, "the certificate chain contains no PEM certificate")
        }
        guard SSL_CTX_use_certificate(ctx, leaf) == 1 else {
            throw OpenSSLErrorQueue.configurationError("the certificate was refused")
        }
        let key = try PEMReader.privateKey(keyPEM)
        defer { EVP_PKEY_free(key) }
        // OpenSSL 3 refuses a key of another type than the certificate's already in
        // SSL_CTX_use_PrivateKey, and one of the same type in SSL_CTX_check_private_key: both
        // are the same mistake to the operator.
        guard SSL_CTX_use_PrivateKey(ctx, key) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            throw GatewayTLSError(
                .privateKeyMismatch,
                "the private key does not match the certificate",
                openSSLErrors: OpenSSLErrorQueue.drain().map(\.text)
            )
        }
    }
}

// MARK: - C callbacks

/// Full handshakes: after OpenSSL's own chain verification, the leaf must name the expected
/// kind of device and must not be revoked.
private let gatewayTLSVerifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverifyOK, store in
    guard preverifyOK == 1, let store, X509_STORE_CTX_get_error_depth(store) == 0,
        let sslPointer = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
        let connection = GatewayTLSConnection.from(ssl: OpaquePointer(sslPointer)),
        let certificate = X509_STORE_CTX_get_current_cert(store)
    else { return preverifyOK }
    if let rejection = connection.checkPeerCertificate(certificate) {
        X509_STORE_CTX_set_error(
            store,
            rejection.code == .certificateRevoked ? X509_V_ERR_CERT_REVOKED : X509_V_ERR_APPLICATION_VERIFICATION
        )
        return 0
    }
    return 1
}

/// Resumed handshakes: OpenSSL does not verify the certificate again, so the identity stored
/// in the session is checked here, and a revoked device's session is removed from the cache.
private let gatewayTLSResumptionCallback:
    @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = {
        ssl,
        alert,
        _ in
        guard let ssl, SSL_session_reused(ssl) == 1, let connection = GatewayTLSConnection.from(ssl: ssl),
            connection.context.configuration.expectedPeer != .anyClient
        else {
            return c_mt_SSL_TLSEXT_ERR_OK()
        }
        let session = SSL_get_session(ssl)
        let rejection: GatewayTLSError?
        if let session, let peer = SSL_SESSION_get0_peer(session) {
            rejection = connection.checkPeerCertificate(peer)
        } else {
            rejection = GatewayTLSError(.noPeerCertificate, "the resumed session carries no client certificate")
        }
        guard let rejection else { return c_mt_SSL_TLSEXT_ERR_OK() }
        if let session { _ = SSL_CTX_remove_session(SSL_get_SSL_CTX(ssl), session) }
        alert?.pointee = rejection.code == .certificateRevoked ? SSL_AD_CERTIFICATE_REVOKED : SSL_AD_ACCESS_DENIED
        return c_mt_SSL_TLSEXT_ERR_ALERT_FATAL()
    }

/// TLS 1.2 clients must offer the extended master secret (RFC 7627). A client that offers
/// only TLS 1.3 is left to version negotiation, which refuses it with its own error.
private let gatewayTLSClientHelloCallback:
    @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = {
        ssl,
        alert,
        _ in
        guard let ssl, let connection = GatewayTLSConnection.from(ssl: ssl) else { return SSL_CLIENT_HELLO_ERROR }
        var data: UnsafePointer<UInt8>? = nil
        var length = 0
        if SSL_client_hello_get0_ext(ssl, UInt32(TLSEXT_TYPE_extended_master_secret), &data, &length) == 1 {
            return SSL_CLIENT_HELLO_SUCCESS
        }
        if SSL_client_hello_get0_ext(ssl, UInt32(TLSEXT_TYPE_supported_versions), &data, &length) == 1,
            let data, length >= 1
        {
            let versions = UnsafeBufferPointer(start: data + 1, count: min(Int(data[0]), length - 1))
            var offersTLS12 = false
            var index = 0
            while index + 1 < versions.count {
                if versions[index] == 0x03 && versions[index + 1] == 0x03 { offersTLS12 = true }
                index += 2
            }
            if !offersTLS12 { return SSL_CLIENT_HELLO_SUCCESS }
        }
        connection.rejection = GatewayTLSError(
            .extendedMasterSecretMissing,
            "the client did not offer the extended master secret (RFC 7627), which this profile requires"
        )
        alert?.pointee = SSL_AD_HANDSHAKE_FAILURE
        return SSL_CLIENT_HELLO_ERROR
    }

/// ALPN (server): the first of the profile's protocols that the client offers. A client that
/// offers none (or no ALPN at all) is served without ALPN rather than refused: the listener
/// speaks only HTTP/1.1 whatever is negotiated.
private let gatewayTLSALPNCallback:
    @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
    ) -> Int32 = { ssl, out, outLength, offered, offeredLength, _ in
        guard let ssl, let out, let outLength, let offered,
            let connection = GatewayTLSConnection.from(ssl: ssl)
        else { return SSL_TLSEXT_ERR_NOACK }
        let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
        for wanted in connection.context.configuration.alpnProtocols {
            let name = Array(wanted.utf8)
            // The client's list: length-prefixed names. The answer points into it, which
            // OpenSSL allows (it copies the selection before the buffer goes).
            var index = 0
            while index < list.count {
                let length = Int(list[index])
                let start = index + 1
                guard start + length <= list.count else { break }
                if length == name.count && Array(list[start..<start + length]) == name {
                    out.pointee = offered + start
                    outLength.pointee = UInt8(length)
                    return SSL_TLSEXT_ERR_OK
                }
                index = start + length
            }
        }
        return SSL_TLSEXT_ERR_NOACK
    }

internal import CMbedTLS

/// The pump's TLS client profile. Owns everything mbedTLS keeps raw pointers to (suite and
/// curve lists, signature hashes, certificate profile, CA chain, own certificate and key,
/// entropy and DRBG); every connection holds a strong reference, so it outlives them all.
///
/// Profile: client, TLS 1.2 only, ECDHE-ECDSA AEAD suites only, P-256 only, SHA-256 only,
/// server certificate verification required against the pinned CA, own certificate sent,
/// extended master secret required, renegotiation off, session tickets off (session-id
/// resumption), max_fragment_length requested.
///
/// Immutable after `init`; the DRBG is mutex-protected (MBEDTLS_THREADING_C), so one
/// configuration may serve connections on several threads.
public final class PumpTLSConfiguration: @unchecked Sendable {
    let config: UnsafeMutablePointer<mbedtls_ssl_config>
    private let suites: UnsafeMutablePointer<Int32>
    private let curves: UnsafeMutablePointer<mbedtls_ecp_group_id>
    private let sigHashes: UnsafeMutablePointer<Int32>
    private let certProfile: UnsafeMutablePointer<mbedtls_x509_crt_profile>
    private let caChain: UnsafeMutablePointer<mbedtls_x509_crt>
    private let ownCertificate: UnsafeMutablePointer<mbedtls_x509_crt>
    private let ownKey: UnsafeMutablePointer<mbedtls_pk_context>
    private let entropy: UnsafeMutablePointer<mbedtls_entropy_context>
    private let drbg: UnsafeMutablePointer<mbedtls_ctr_drbg_context>

    /// The suites offered, in preference order.
    public let cipherSuites: [PumpTLSCipherSuite]
    /// The max_fragment_length requested, or nil to request none.
    public let maxFragmentLength: PumpTLSMaxFragmentLength?

    /// - Parameters:
    ///   - trustedCAPEM: the gateway CA certificate(s), PEM; the only trust anchors.
    ///   - certificatePEM: the pump's certificate (chain), PEM, leaf first.
    ///   - privateKeyPEM: the pump's P-256 private key, PEM (SEC1 or PKCS#8).
    ///   - cipherSuites: suites to offer, in preference order (a non-empty subset of the profile).
    ///   - maxFragmentLength: the max_fragment_length to request (default 4096), nil for none.
    public init(
        trustedCAPEM: String,
        certificatePEM: String,
        privateKeyPEM: String,
        cipherSuites: [PumpTLSCipherSuite] = PumpTLSCipherSuite.allCases,
        maxFragmentLength: PumpTLSMaxFragmentLength? = .bytes4096
    ) throws(PumpTLSError) {
        self.cipherSuites = cipherSuites.filter { $0.isAvailable }
        self.maxFragmentLength = maxFragmentLength

        self.config = .allocate(capacity: 1)
        self.suites = .allocate(capacity: PumpTLSCipherSuite.allCases.count + 1)
        self.curves = .allocate(capacity: 2)
        self.sigHashes = .allocate(capacity: 2)
        self.certProfile = .allocate(capacity: 1)
        self.caChain = .allocate(capacity: 1)
        self.ownCertificate = .allocate(capacity: 1)
        self.ownKey = .allocate(capacity: 1)
        self.entropy = .allocate(capacity: 1)
        self.drbg = .allocate(capacity: 1)
        mbedtls_ssl_config_init(self.config)
        mbedtls_x509_crt_init(self.caChain)
        mbedtls_x509_crt_init(self.ownCertificate)
        mbedtls_pk_init(self.ownKey)
        mbedtls_entropy_init(self.entropy)
        mbedtls_ctr_drbg_init(self.drbg)
        // From here on deinit frees everything, also when init throws.

        guard !self.cipherSuites.isEmpty else {
            throw PumpTLSError(
                .invalidConfiguration,
                "no usable cipher suite: give at least one of the ECDHE-ECDSA AEAD suites this mbedTLS build implements"
            )
        }
        for (index, suite) in self.cipherSuites.enumerated() { self.suites[index] = Int32(suite.ianaValue) }
        self.suites[self.cipherSuites.count] = 0
        self.curves[0] = MBEDTLS_ECP_DP_SECP256R1
        self.curves[1] = MBEDTLS_ECP_DP_NONE
        self.sigHashes[0] = Int32(MBEDTLS_MD_SHA256.rawValue)
        self.sigHashes[1] = Int32(MBEDTLS_MD_NONE.rawValue)
        self.certProfile.initialize(
            to: mbedtls_x509_crt_profile(
                allowed_mds: medtunnel_x509_id_flag(Int32(MBEDTLS_MD_SHA256.rawValue)),
                allowed_pks: medtunnel_x509_id_flag(Int32(MBEDTLS_PK_ECDSA.rawValue))
                    | medtunnel_x509_id_flag(Int32(MBEDTLS_PK_ECKEY.rawValue)),
                allowed_curves: medtunnel_x509_id_flag(Int32(MBEDTLS_ECP_DP_SECP256R1.rawValue)),
                rsa_min_bitlen: 4096
            )
        )

        try Self.check(
            Self.withPEM(trustedCAPEM) { mbedtls_x509_crt_parse(self.caChain, $0, $1) },
            "the trusted CA PEM could not be parsed: give the gateway CA certificate in PEM"
        )
        try Self.check(
            Self.withPEM(certificatePEM) { mbedtls_x509_crt_parse(self.ownCertificate, $0, $1) },
            "the pump certificate PEM could not be parsed: give the pump certificate in PEM"
        )
        try Self.check(
            Self.withPEM(privateKeyPEM) { mbedtls_pk_parse_key(self.ownKey, $0, $1, nil, 0) },
            "the pump private key PEM could not be parsed: give an unencrypted P-256 key in PEM"
        )
        try Self.check(
            mbedtls_pk_check_pair(&self.ownCertificate.pointee.pk, self.ownKey),
            "the pump private key does not match the pump certificate: give the key issued with it"
        )
        let personalization: [UInt8] = Array("medtunnel-pump-tls".utf8)
        try Self.check(
            mbedtls_ctr_drbg_seed(
                self.drbg,
                mbedtls_entropy_func,
                self.entropy,
                personalization,
                personalization.count
            ),
            "the random generator could not be seeded: the platform entropy source failed"
        )
        try Self.check(
            mbedtls_ssl_config_defaults(
                self.config,
                MBEDTLS_SSL_IS_CLIENT,
                MBEDTLS_SSL_TRANSPORT_STREAM,
                MBEDTLS_SSL_PRESET_DEFAULT
            ),
            "mbedTLS refused the default client configuration"
        )
        mbedtls_ssl_conf_min_version(self.config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
        mbedtls_ssl_conf_max_version(self.config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
        mbedtls_ssl_conf_ciphersuites(self.config, self.suites)
        mbedtls_ssl_conf_curves(self.config, self.curves)
        mbedtls_ssl_conf_sig_hashes(self.config, self.sigHashes)
        mbedtls_ssl_conf_cert_profile(self.config, self.certProfile)
        mbedtls_ssl_conf_authmode(self.config, MBEDTLS_SSL_VERIFY_REQUIRED)
        mbedtls_ssl_conf_ca_chain(self.config, self.caChain, nil)
        try Self.check(
            mbedtls_ssl_conf_own_cert(self.config, self.ownCertificate, self.ownKey),
            "mbedTLS refused the pump certificate and key"
        )
        mbedtls_ssl_conf_rng(self.config, mbedtls_ctr_drbg_random, self.drbg)
        mbedtls_ssl_conf_extended_master_secret(self.config, Int8(MBEDTLS_SSL_EXTENDED_MS_ENABLED))
        medtunnel_ssl_conf_no_etm_no_renegotiation(self.config)
        mbedtls_ssl_conf_session_tickets(self.config, MBEDTLS_SSL_SESSION_TICKETS_DISABLED)
        if let maxFragmentLength {
            try Self.check(
                mbedtls_ssl_conf_max_frag_len(self.config, maxFragmentLength.mbedTLSCode),
                "mbedTLS refused the max_fragment_length \(maxFragmentLength.bytes)"
            )
        }
    }

    deinit {
        mbedtls_ssl_config_free(self.config)
        mbedtls_ctr_drbg_free(self.drbg)
        mbedtls_entropy_free(self.entropy)
        mbedtls_pk_free(self.ownKey)
        mbedtls_x509_crt_free(self.ownCertificate)
        mbedtls_x509_crt_free(self.caChain)
        self.config.deallocate()
        self.suites.deallocate()
        self.curves.deallocate()
        self.sigHashes.deallocate()
        self.certProfile.deallocate()
        self.caChain.deallocate()
        self.ownCertificate.deallocate()
        self.ownKey.deallocate()
        self.entropy.deallocate()
        self.drbg.deallocate()
    }

    /// Calls `body` with the PEM's bytes NUL-terminated (mbedTLS' PEM parsers need the NUL
    /// counted in the length), then wipes the copy: it may hold a private key.
    private static func withPEM(_ pem: String, _ body: (UnsafePointer<UInt8>, Int) -> Int32) -> Int32 {
        var bytes = Array(pem.utf8)
        bytes.append(0)
        let result = bytes.withUnsafeMutableBufferPointer { buffer in
            let rc = body(UnsafePointer(buffer.baseAddress!), buffer.count)
            mbedtls_platform_zeroize(buffer.baseAddress, buffer.count)
            return rc
        }
        return result
    }

    private static func check(_ rc: Int32, _ reason: String, line: Int = #line) throws(PumpTLSError) {
        guard rc != 0 else { return }
        throw PumpTLSError(
            .invalidConfiguration,
            reason,
            mbedTLSError: rc < 0 ? rc : 0,
            mbedTLSErrorText: rc < 0 ? mbedTLSErrorText(rc) : "\(rc) certificate(s) failed to parse",
            line: line
        )
    }
}

/// mbedtls_strerror's text for `rc`.
func mbedTLSErrorText(_ rc: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 200)
    buffer.withUnsafeMutableBufferPointer { mbedtls_strerror(rc, $0.baseAddress, $0.count) }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

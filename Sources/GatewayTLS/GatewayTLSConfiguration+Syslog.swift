extension GatewayTLSConfiguration {
    /// The gateway's connection to a syslog collector (RFC 5425): a client with no certificate of
    /// its own, verifying the collector's certificate against `trustRootsPEM` (the operator's CA
    /// file, not the MedTunnel CA) and `collectorHost` (DNS name or IP address). TLS 1.2 or 1.3,
    /// since collectors (rsyslog with GnuTLS or OpenSSL, syslog-ng) vary; forward-secret AEAD
    /// suites only, and ECDSA or RSA certificates, which is what collectors are given. The rest
    /// (no session cache, handshake timeout, buffer cap) is the OpenSSL pump client's.
    public static func syslogClient(trustRootsPEM: String, collectorHost: String) -> GatewayTLSConfiguration {
        var configuration = Self.pumpClient(
            trustRootsPEM: trustRootsPEM,
            certificateChainPEM: nil,
            privateKeyPEM: nil,
            gatewayHost: collectorHost
        )
        configuration.maximumVersion = .tls13
        configuration.cipherList = "ECDHE+AESGCM:ECDHE+CHACHA20"
        configuration.cipherSuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
        configuration.groups = "X25519:P-256:P-384"
        configuration.signatureAlgorithms =
            "ECDSA+SHA256:ECDSA+SHA384:rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:RSA+SHA256:RSA+SHA384:ed25519"
        return configuration
    }
}

/// How a gateway TLS context is set up. Use the profiles (``pumpServer(…)``,
/// ``phoneServer(…)``, ``phoneClient(…)``); the fields are public so tests can build the
/// hostile peers the profiles must refuse.
public struct GatewayTLSConfiguration: Sendable {
    public enum Role: Sendable { case server, client }

    public enum Version: Int32, Sendable {
        case tls12 = 0x0303
        case tls13 = 0x0304
    }

    /// What the peer's certificate must name.
    public enum ExpectedPeer: Sendable, Equatable {
        /// A pump: exactly one `urn:medtunnel:pump:SERIAL` SAN URI and CN = SERIAL.
        case pump
        /// A phone relay: `urn:medtunnel:phone:ID`.
        case phone
        /// A server whose certificate matches this host name or IP address.
        case host(String)
        /// Any client, without a certificate (server side only): the operator API's HTTPS
        /// listener, whose callers authenticate with bearer tokens inside the session, not with
        /// client certificates. No trust roots are needed and none is asked for.
        case anyClient
    }

    public var role: Role
    public var trustRootsPEM: String
    public var certificateChainPEM: String?
    public var privateKeyPEM: String?
    public var expectedPeer: ExpectedPeer
    public var minimumVersion: Version
    public var maximumVersion: Version
    /// OpenSSL cipher list for TLS 1.2.
    public var cipherList: String
    /// OpenSSL cipher suites for TLS 1.3.
    public var cipherSuites: String
    public var groups: String
    public var signatureAlgorithms: String
    /// Refuse a client that does not offer the extended master secret (server, TLS 1.2).
    public var requireExtendedMasterSecret: Bool
    /// Server: session cache entries and tickets live this long. Two hours by default: a pump
    /// that lost its phone link for a while still resumes, yet a revoked device's sessions
    /// vanish soon even if nobody flushes the cache (revocation is checked on resumption too).
    public var sessionLifetimeSeconds: Int
    public var sessionCacheSize: Int
    public var sessionTickets: Bool
    public var sessionIDContext: String
    /// A handshake not finished in this time is aborted (by the driver: see ``GatewayTLSHandler``).
    public var handshakeTimeoutMilliseconds: Int64
    /// The most ciphertext the engine holds while waiting for the rest of a record. The
    /// largest legal TLS 1.2 record is 16,384 + 2,048 + 5 bytes; 64 KiB leaves room for a
    /// few, and a peer exceeding it is cut off with ``GatewayTLSError/Code/bufferLimitExceeded``.
    public var maximumBufferedCiphertext: Int
    /// ALPN protocols a server accepts, in its order of preference (`http/1.1`); empty: ALPN is
    /// not answered. A client offering none of them is served without ALPN, not refused.
    public var alpnProtocols: [String] = []
    /// Never true in MedTunnel: exists only so tests can build the peer that renegotiates.
    public var allowsRenegotiation = false
    /// Never true in MedTunnel: exists only so tests can build a client that omits the
    /// extended master secret.
    public var omitsExtendedMasterSecret = false

    /// The pump profile's TLS 1.2 suites: ECDHE-ECDSA with AEAD only.
    public static let pumpCipherList =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-CCM"

    /// The gateway's end of a pump's inner tunnel: TLS 1.2 only, ECDHE-ECDSA on P-256 with
    /// AEAD suites only, extended master secret required, no renegotiation or compression,
    /// client certificate required and naming a pump, session id context set, session cache
    /// and tickets with an explicit lifetime.
    public static func pumpServer(
        trustRootsPEM: String,
        certificateChainPEM: String,
        privateKeyPEM: String
    ) -> GatewayTLSConfiguration {
        GatewayTLSConfiguration(
            role: .server,
            trustRootsPEM: trustRootsPEM,
            certificateChainPEM: certificateChainPEM,
            privateKeyPEM: privateKeyPEM,
            expectedPeer: .pump,
            minimumVersion: .tls12,
            maximumVersion: .tls12,
            cipherList: Self.pumpCipherList,
            cipherSuites: "",
            groups: "P-256",
            signatureAlgorithms: "ECDSA+SHA256",
            requireExtendedMasterSecret: true,
            sessionLifetimeSeconds: 7_200,
            sessionCacheSize: 20_000,
            sessionTickets: true,
            sessionIDContext: "medtunnel-pump-v1",
            handshakeTimeoutMilliseconds: 10_000,
            maximumBufferedCiphertext: 64 * 1024
        )
    }

    /// The gateway's end of a phone relay's outer connection: TLS 1.3 only, mutual.
    public static func phoneServer(
        trustRootsPEM: String,
        certificateChainPEM: String,
        privateKeyPEM: String
    ) -> GatewayTLSConfiguration {
        var configuration = Self.pumpServer(
            trustRootsPEM: trustRootsPEM,
            certificateChainPEM: certificateChainPEM,
            privateKeyPEM: privateKeyPEM
        )
        configuration.expectedPeer = .phone
        configuration.minimumVersion = .tls13
        configuration.maximumVersion = .tls13
        configuration.cipherList = ""
        configuration.cipherSuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
        configuration.groups = "X25519:P-256"
        configuration.signatureAlgorithms = "ECDSA+SHA256:ed25519"
        configuration.requireExtendedMasterSecret = false  // TLS 1.3 always binds the transcript
        configuration.sessionIDContext = "medtunnel-phone-v1"
        return configuration
    }

    /// The phone relay's end of its outer connection: TLS 1.3 only, presenting the phone's
    /// certificate and verifying the gateway's against the MedTunnel CA and `gatewayHost`.
    public static func phoneClient(
        trustRootsPEM: String,
        certificateChainPEM: String,
        privateKeyPEM: String,
        gatewayHost: String
    ) -> GatewayTLSConfiguration {
        var configuration = Self.phoneServer(
            trustRootsPEM: trustRootsPEM,
            certificateChainPEM: certificateChainPEM,
            privateKeyPEM: privateKeyPEM
        )
        configuration.role = .client
        configuration.expectedPeer = .host(gatewayHost)
        return configuration
    }

    /// The operator API's HTTPS listener (`--api-tls-cert`, `--api-tls-key`): TLS 1.2 and 1.3,
    /// ECDHE with AEAD suites only, no client certificate (callers present bearer tokens), ALPN
    /// `http/1.1`. The certificate is the operator's own (RSA or ECDSA, from any CA), so the
    /// signature algorithms and suites cover both key types, and TLS 1.2 stays for the
    /// browsers and proxies that still need it; the extended master secret is required there.
    public static func apiServer(certificateChainPEM: String, privateKeyPEM: String) -> GatewayTLSConfiguration {
        var configuration = GatewayTLSConfiguration(
            role: .server,
            trustRootsPEM: "",
            certificateChainPEM: certificateChainPEM,
            privateKeyPEM: privateKeyPEM,
            expectedPeer: .anyClient,
            minimumVersion: .tls12,
            maximumVersion: .tls13,
            cipherList: Self.apiCipherList,
            cipherSuites: "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
            groups: "X25519:P-256:P-384",
            signatureAlgorithms: "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ed25519:RSA-PSS+SHA256:RSA-PSS+SHA384:"
                + "RSA-PSS+SHA512:RSA+SHA256:RSA+SHA384:RSA+SHA512",
            requireExtendedMasterSecret: true,
            sessionLifetimeSeconds: 7_200,
            sessionCacheSize: 20_000,
            sessionTickets: true,
            sessionIDContext: "medtunnel-api-v1",
            handshakeTimeoutMilliseconds: 10_000,
            maximumBufferedCiphertext: 64 * 1024
        )
        configuration.alpnProtocols = ["http/1.1"]
        return configuration
    }

    /// The API profile's TLS 1.2 suites: ECDHE (forward secrecy) with AEAD only, for ECDSA and
    /// RSA certificates.
    public static let apiCipherList =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
        + "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"

    /// A pump-profile client on OpenSSL (the real pump uses mbedTLS; this one exists for
    /// interoperability tests and for building hostile clients by changing fields).
    public static func pumpClient(
        trustRootsPEM: String,
        certificateChainPEM: String?,
        privateKeyPEM: String?,
        gatewayHost: String
    ) -> GatewayTLSConfiguration {
        GatewayTLSConfiguration(
            role: .client,
            trustRootsPEM: trustRootsPEM,
            certificateChainPEM: certificateChainPEM,
            privateKeyPEM: privateKeyPEM,
            expectedPeer: .host(gatewayHost),
            minimumVersion: .tls12,
            maximumVersion: .tls12,
            cipherList: Self.pumpCipherList,
            cipherSuites: "",
            groups: "P-256",
            signatureAlgorithms: "ECDSA+SHA256",
            requireExtendedMasterSecret: false,
            sessionLifetimeSeconds: 7_200,
            sessionCacheSize: 0,
            sessionTickets: false,
            sessionIDContext: "",
            handshakeTimeoutMilliseconds: 10_000,
            maximumBufferedCiphertext: 64 * 1024
        )
    }
}

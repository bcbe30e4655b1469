internal import CMbedTLS

/// The only cipher suites the pump offers: ECDHE-ECDSA with an AEAD, TLS 1.2.
public enum PumpTLSCipherSuite: Hashable, Sendable, CaseIterable {
    /// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xC02B), OpenSSL `ECDHE-ECDSA-AES128-GCM-SHA256`.
    case ecdheECDSAWithAES128GCMSHA256
    /// TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (0xCCA9), OpenSSL `ECDHE-ECDSA-CHACHA20-POLY1305`.
    case ecdheECDSAWithChaCha20Poly1305SHA256
    /// TLS_ECDHE_ECDSA_WITH_AES_128_CCM (0xC0AC), OpenSSL `ECDHE-ECDSA-AES128-CCM`.
    case ecdheECDSAWithAES128CCM

    /// The IANA code point.
    public var ianaValue: UInt16 {
        switch self {
        case .ecdheECDSAWithAES128GCMSHA256: return 0xC02B
        case .ecdheECDSAWithChaCha20Poly1305SHA256: return 0xCCA9
        case .ecdheECDSAWithAES128CCM: return 0xC0AC
        }
    }

    /// The OpenSSL name (what the gateway logs and `openssl s_server -cipher` takes).
    public var openSSLName: String {
        switch self {
        case .ecdheECDSAWithAES128GCMSHA256: return "ECDHE-ECDSA-AES128-GCM-SHA256"
        case .ecdheECDSAWithChaCha20Poly1305SHA256: return "ECDHE-ECDSA-CHACHA20-POLY1305"
        case .ecdheECDSAWithAES128CCM: return "ECDHE-ECDSA-AES128-CCM"
        }
    }

    init?(ianaValue: Int32) {
        switch ianaValue {
        case 0xC02B: self = .ecdheECDSAWithAES128GCMSHA256
        case 0xCCA9: self = .ecdheECDSAWithChaCha20Poly1305SHA256
        case 0xC0AC: self = .ecdheECDSAWithAES128CCM
        default: return nil
        }
    }

    /// Whether this mbedTLS build implements the suite (Debian 12's enables all three).
    var isAvailable: Bool {
        mbedtls_ssl_ciphersuite_from_id(Int32(self.ianaValue)) != nil
    }
}

/// The max_fragment_length (RFC 6066) the pump requests, capping record size both ways.
public enum PumpTLSMaxFragmentLength: Hashable, Sendable {
    case bytes512
    case bytes1024
    case bytes2048
    case bytes4096

    public var bytes: Int {
        switch self {
        case .bytes512: return 512
        case .bytes1024: return 1024
        case .bytes2048: return 2048
        case .bytes4096: return 4096
        }
    }

    var mbedTLSCode: UInt8 {
        switch self {
        case .bytes512: return UInt8(MBEDTLS_SSL_MAX_FRAG_LEN_512)
        case .bytes1024: return UInt8(MBEDTLS_SSL_MAX_FRAG_LEN_1024)
        case .bytes2048: return UInt8(MBEDTLS_SSL_MAX_FRAG_LEN_2048)
        case .bytes4096: return UInt8(MBEDTLS_SSL_MAX_FRAG_LEN_4096)
        }
    }
}

/// Buffer caps. Exceeding one is a typed error, never growth.
public enum PumpTLSLimits {
    /// Ciphertext fed but not yet consumed by mbedTLS: two maximum-size TLS 1.2 records
    /// (16 KiB plaintext + 2 KiB expansion + 5-byte header each).
    public static let maxBufferedCiphertext = 2 * (16_384 + 2_048 + 5)
    /// Decrypted plaintext waiting for `readPlaintext()`. When full, the engine stops
    /// decrypting; ciphertext then queues up to `maxBufferedCiphertext`.
    public static let maxBufferedPlaintext = 64 * 1024
    /// Ciphertext produced but not yet taken with `takeOutbound()`.
    public static let maxBufferedOutbound = 64 * 1024
}

internal import CMbedTLS

/// The result of one mbedTLS call (swift-nio-ssl's `AsyncOperationResult`).
enum PumpTLSOperationResult {
    /// mbedTLS needs more ciphertext (WANT_READ) or would block writing.
    case incomplete
    /// The call finished; the value is its non-negative return (bytes read or written).
    case complete(Int)
    case failed(PumpTLSError)
}

extension PumpTLSConnection {
    /// The ONE place where mbedTLS return codes are interpreted.
    func translate(_ rc: Int32, file: String = #fileID, line: Int = #line) -> PumpTLSOperationResult {
        if rc >= 0 { return .complete(Int(rc)) }
        switch rc {
        case MBEDTLS_ERR_SSL_WANT_READ, MBEDTLS_ERR_SSL_WANT_WRITE, MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS,
            MBEDTLS_ERR_SSL_CRYPTO_IN_PROGRESS:
            return .incomplete
        default:
            return .failed(self.error(for: rc, file: file, line: line))
        }
    }

    private func error(for rc: Int32, file: String, line: Int) -> PumpTLSError {
        let text = mbedTLSErrorText(rc)
        func make(
            _ code: PumpTLSError.Code,
            _ reason: String,
            verify: [String] = [],
            alert: UInt8? = nil
        )
            -> PumpTLSError
        {
            PumpTLSError(
                code,
                reason,
                mbedTLSError: rc,
                mbedTLSErrorText: text,
                verifyFailures: verify,
                alert: alert,
                file: file,
                line: line
            )
        }
        let verifyFlags = mbedtls_ssl_get_verify_result(self.ssl)
        switch rc {
        // mbedTLS reports a bad certificate usage (e.g. a clientAuth certificate from the server)
        // as BAD_HS_CERTIFICATE with the verify flags set, other failures as CERT_VERIFY_FAILED.
        case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED,
            MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE where verifyFlags != 0 && verifyFlags != UInt32.max:
            let flags = verifyFlags
            let names = Self.verifyFailureNames(flags)
            if flags & UInt32(MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0 {
                return make(
                    .peerCertificateUntrusted,
                    "the gateway's certificate is not issued by the pinned MedTunnel CA: "
                        + "this is not our gateway, or the pump holds the wrong CA",
                    verify: names
                )
            }
            if flags & UInt32(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE) != 0 {
                return make(
                    .peerCertificateExpired,
                    "the gateway's certificate is expired or not yet valid: renew it, or check the pump's clock",
                    verify: names
                )
            }
            if flags & UInt32(MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0 {
                return make(
                    .peerCertificateNameMismatch,
                    "the gateway's certificate does not name the expected server: check the gateway address",
                    verify: names
                )
            }
            return make(
                .peerCertificateRejected,
                "the gateway's certificate failed verification (\(names.joined(separator: ", "))): reissue it",
                verify: names
            )
        case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
            let alert = medtunnel_ssl_last_alert(self.ssl)
            let description = alert >= 0 ? UInt8(alert) : nil
            switch alert {
            case Int32(MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE), Int32(MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY):
                return make(
                    .peerRejectedHandshake,
                    "the gateway refused the handshake (no common cipher suite, curve or signature): "
                        + "check that it offers the pump profile (TLS 1.2, ECDHE-ECDSA P-256, AEAD)",
                    alert: description
                )
            case Int32(MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION):
                return make(
                    .peerRejectedProtocolVersion,
                    "the server refused TLS 1.2: check that the address is the gateway's pump listener (--pump-listen) "
                        + "or a phone relay's pump port, not the gateway's relay listener (--relay-listen, TLS 1.3 only)",
                    alert: description
                )
            case Int32(MBEDTLS_SSL_ALERT_MSG_BAD_CERT), Int32(MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT),
                Int32(MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED), Int32(MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED),
                Int32(MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN), Int32(MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA),
                Int32(MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED), Int32(MBEDTLS_SSL_ALERT_MSG_NO_CERT):
                return make(
                    .peerRejectedCertificate,
                    "the gateway refused the pump's certificate (alert \(alert)): "
                        + "check that it is issued by the MedTunnel CA, valid and not revoked",
                    alert: description
                )
            default:
                return make(.peerAlert, "the gateway ended the session with fatal alert \(alert)", alert: description)
            }
        case MBEDTLS_ERR_SSL_INVALID_MAC:
            return make(
                .badRecordMAC,
                "a record from the gateway failed authentication (bad_record_mac): it was altered on the way; "
                    + "nothing from it was delivered; reconnect"
            )
        case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
            return make(.peerClosed, "the gateway closed the session (close_notify)")
        case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
            return make(
                .unsupportedProtocolVersion,
                "the gateway chose a TLS version other than 1.2: the pump speaks TLS 1.2 only"
            )
        case MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN, MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
            return make(.peerRejectedHandshake, "no cipher suite in common with the gateway")
        case MBEDTLS_ERR_SSL_ALLOC_FAILED, MBEDTLS_ERR_SSL_INTERNAL_ERROR, MBEDTLS_ERR_SSL_BAD_INPUT_DATA,
            MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE, MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL:
            return make(.internalError, "mbedTLS failed internally: reconnect; report if it repeats")
        default:
            // Malformed records, unexpected or bad handshake messages, bad signatures, bad key
            // exchange parameters: the peer (or the link) broke the protocol.
            return make(.protocolError, "the gateway's data broke the TLS protocol: reconnect; report if it repeats")
        }
    }

    /// X.509 verification flags (mbedtls_ssl_get_verify_result) as names.
    static func verifyFailureNames(_ flags: UInt32) -> [String] {
        let table: [(Int32, String)] = [
            (MBEDTLS_X509_BADCERT_EXPIRED, "expired"),
            (MBEDTLS_X509_BADCERT_REVOKED, "revoked"),
            (MBEDTLS_X509_BADCERT_CN_MISMATCH, "name mismatch"),
            (MBEDTLS_X509_BADCERT_NOT_TRUSTED, "not trusted"),
            (MBEDTLS_X509_BADCRL_NOT_TRUSTED, "CRL not trusted"),
            (MBEDTLS_X509_BADCRL_EXPIRED, "CRL expired"),
            (MBEDTLS_X509_BADCERT_MISSING, "missing"),
            (MBEDTLS_X509_BADCERT_SKIP_VERIFY, "verification skipped"),
            (MBEDTLS_X509_BADCERT_OTHER, "other"),
            (MBEDTLS_X509_BADCERT_FUTURE, "not yet valid"),
            (MBEDTLS_X509_BADCRL_FUTURE, "CRL not yet valid"),
            (MBEDTLS_X509_BADCERT_KEY_USAGE, "bad key usage"),
            (MBEDTLS_X509_BADCERT_EXT_KEY_USAGE, "bad extended key usage"),
            (MBEDTLS_X509_BADCERT_NS_CERT_TYPE, "bad certificate type"),
            (MBEDTLS_X509_BADCERT_BAD_MD, "bad signature hash"),
            (MBEDTLS_X509_BADCERT_BAD_PK, "bad key type"),
            (MBEDTLS_X509_BADCERT_BAD_KEY, "bad key (curve or size)"),
            (MBEDTLS_X509_BADCRL_BAD_MD, "CRL bad signature hash"),
            (MBEDTLS_X509_BADCRL_BAD_PK, "CRL bad key type"),
            (MBEDTLS_X509_BADCRL_BAD_KEY, "CRL bad key"),
        ]
        var names: [String] = []
        var known: UInt32 = 0
        for (flag, name) in table {
            known |= UInt32(flag)
            if flags & UInt32(flag) != 0 { names.append(name) }
        }
        if flags & ~known != 0 { names.append("unknown (0x\(String(flags & ~known, radix: 16)))") }
        return names
    }
}

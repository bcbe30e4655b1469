// Shims for mbedTLS 2.28 (Debian 12 ships no pkg-config file; the module map links
// mbedtls, mbedx509, mbedcrypto in that order).
#ifndef MEDTUNNEL_CMBEDTLS_SHIM_H
#define MEDTUNNEL_CMBEDTLS_SHIM_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/ssl_internal.h>
#include <mbedtls/x509_crt.h>

/// Whether the handshake in progress negotiated the extended master secret (RFC 7627).
/// -1 when no handshake is in progress (the parameters are freed at wrap-up).
static inline int medtunnel_ssl_handshake_extended_ms(const mbedtls_ssl_context *ssl) {
    if (ssl->handshake == NULL) return -1;
    return ssl->handshake->extended_ms == MBEDTLS_SSL_EXTENDED_MS_ENABLED ? 1 : 0;
}

/// Whether the handshake in progress resumes a session (the server echoed our session id).
/// -1 when no handshake is in progress.
static inline int medtunnel_ssl_handshake_resumed(const mbedtls_ssl_context *ssl) {
    if (ssl->handshake == NULL) return -1;
    return ssl->handshake->resume ? 1 : 0;
}

/// The description byte of the last alert record read, or -1 when the last record was no alert.
static inline int medtunnel_ssl_last_alert(const mbedtls_ssl_context *ssl) {
    if (ssl->in_msg == NULL || ssl->in_msgtype != MBEDTLS_SSL_MSG_ALERT || ssl->in_msglen < 2) return -1;
    return ssl->in_msg[1];
}

/// Whether the last alert read was fatal.
static inline int medtunnel_ssl_last_alert_level(const mbedtls_ssl_context *ssl) {
    if (ssl->in_msg == NULL || ssl->in_msgtype != MBEDTLS_SSL_MSG_ALERT || ssl->in_msglen < 2) return -1;
    return ssl->in_msg[0];
}

/// Whether the last message read was a HelloRequest (the server asking to renegotiate).
/// mbedTLS refuses it with a no_renegotiation warning and returns WANT_READ; the pump
/// treats it as fatal. (in_hslen is already reset to 0 when mbedtls_ssl_read returns; after the
/// handshake the last handshake message is otherwise Finished, type 20.)
static inline int medtunnel_ssl_last_message_is_hello_request(const mbedtls_ssl_context *ssl) {
    return ssl->in_msg != NULL && ssl->in_msgtype == MBEDTLS_SSL_MSG_HANDSHAKE
        && ssl->in_msg[0] == MBEDTLS_SSL_HS_HELLO_REQUEST;
}

/// The handshake state machine position (MBEDTLS_SSL_HELLO_REQUEST ... MBEDTLS_SSL_HANDSHAKE_OVER).
static inline int medtunnel_ssl_state(const mbedtls_ssl_context *ssl) { return ssl->state; }

/// The established session's id length and bytes (not secret: it is sent in the clear).
static inline size_t medtunnel_ssl_session_id(const mbedtls_ssl_context *ssl, unsigned char out[32]) {
    if (ssl->session == NULL) return 0;
    size_t n = ssl->session->id_len > 32 ? 32 : ssl->session->id_len;
    for (size_t i = 0; i < n; i++) out[i] = ssl->session->id[i];
    return n;
}

static inline size_t medtunnel_session_id(const mbedtls_ssl_session *s, unsigned char out[32]) {
    size_t n = s->id_len > 32 ? 32 : s->id_len;
    for (size_t i = 0; i < n; i++) out[i] = s->id[i];
    return n;
}

/// The subject name list of a certificate (first element).
static inline const mbedtls_x509_name *medtunnel_x509_crt_subject(const mbedtls_x509_crt *crt) { return &crt->subject; }

/// MBEDTLS_X509_ID_FLAG is a macro.
static inline uint32_t medtunnel_x509_id_flag(int id) { return MBEDTLS_X509_ID_FLAG(id); }

/// The EC key pair inside a parsed key, or NULL when the key is not an EC key
/// (mbedtls_pk_ec takes the context by value, which Swift would copy).
static inline mbedtls_ecp_keypair *medtunnel_pk_ec_keypair(const mbedtls_pk_context *pk) {
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY && mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECDSA) return NULL;
    return (mbedtls_ecp_keypair *) pk->pk_ctx;
}

/// The most plaintext one incoming record can carry: the negotiated max_fragment_length (or the
/// build's input buffer size). mbedtls_ssl_read returns at most one record's data, so a read
/// buffer of this size is enough: on the firmware that is 1 KiB instead of 16.
static inline size_t medtunnel_ssl_max_in_record_plaintext(const mbedtls_ssl_context *ssl) {
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
    return mbedtls_ssl_get_input_max_frag_len(ssl);
#else
    (void) ssl;
    return MBEDTLS_SSL_IN_CONTENT_LEN;
#endif
}

/// Turns off encrypt-then-MAC (the profile's suites are AEAD) and renegotiation, and breaks
/// off handshakes with peers that do not support secure renegotiation. A build without
/// encrypt-then-MAC or renegotiation compiled in (the firmware's pump profile,
/// firmware-profile/mbedtls_pump_config.h) has nothing to turn off: the calls exist only there.
static inline void medtunnel_ssl_conf_no_etm_no_renegotiation(mbedtls_ssl_config *conf) {
#if defined(MBEDTLS_SSL_ENCRYPT_THEN_MAC)
    mbedtls_ssl_conf_encrypt_then_mac(conf, MBEDTLS_SSL_ETM_DISABLED);
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
    mbedtls_ssl_conf_legacy_renegotiation(conf, MBEDTLS_SSL_LEGACY_BREAK_HANDSHAKE);
}

#endif

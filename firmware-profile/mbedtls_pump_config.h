/*
 * mbedTLS 2.28 configuration of the pump profile (firmware-profile/).
 *
 * What PumpTLS and PumpRuntime use, and nothing else:
 *   - TLS 1.2 client only (no server, no DTLS, no SSL 3/TLS 1.0/1.1, no renegotiation);
 *   - ECDHE-ECDSA on P-256 only, certificates signed with ECDSA-SHA-256;
 *   - AES-128-GCM, AES-128-CCM and ChaCha20-Poly1305 (the three suites of PumpTLSCipherSuite);
 *   - SHA-256 only (SHA-224 comes with it; no SHA-1/SHA-512/MD5);
 *   - extended master secret (required by the gateway), session-id resumption (the gateway's
 *     cache), the session-ticket extension compiled in because PumpTLS turns it off at run
 *     time (mbedtls_ssl_conf_session_tickets exists only with it), max_fragment_length;
 *   - CTR-DRBG seeded by the platform's entropy source (mbedtls_hardware_poll: see
 *     platform_hooks.c, TEST-ONLY on QEMU, which has no TRNG);
 *   - deterministic ECDSA (RFC 6979) for the acknowledgement signatures (PumpCrypto).
 * Set through MBEDTLS_CONFIG_FILE for mbedTLS itself and for the Swift import of CMbedTLS, so
 * both sides agree on every struct layout.
 */
#ifndef MEDTUNNEL_MBEDTLS_PUMP_CONFIG_H
#define MEDTUNNEL_MBEDTLS_PUMP_CONFIG_H

/* System: newlib-nano on a Cortex-M4, no file system, no sockets, no threads. */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE          /* certificate validity: time() and gmtime_r() of newlib, fed by the platform clock */
#define MBEDTLS_PLATFORM_GMTIME_R_ALT   /* newlib's gmtime_r (platform_hooks.c): mbedTLS would take gmtime, whose assert pulls in printf */
#define MBEDTLS_NO_PLATFORM_ENTROPY     /* no /dev/urandom */
#define MBEDTLS_ENTROPY_HARDWARE_ALT    /* mbedtls_hardware_poll() from the platform hooks */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_ERROR_STRERROR_DUMMY    /* mbedtls_strerror exists but carries no text table (flash) */
#define MBEDTLS_DEPRECATED_REMOVED

/* Big numbers and curves: P-256 only, NIST-optimised reduction, small windows (RAM). */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_MPI_WINDOW_SIZE 2
#define MBEDTLS_MPI_MAX_SIZE 32
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_HMAC_DRBG_C             /* RFC 6979 nonces */

/* Keys and certificates. */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C            /* ECDSA signatures in TLS are DER */
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PEM_PARSE_C             /* the PEMs the runtime is configured with */
#define MBEDTLS_BASE64_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C

/* Symmetric: AES-128 (GCM, CCM), ChaCha20-Poly1305, SHA-256. */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES          /* tables in flash, not computed into RAM */
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

/* TLS: 1.2 client, ECDHE-ECDSA. */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE /* PumpTLS reads the gateway's common name */
#define MBEDTLS_SSL_CIPHERSUITES \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CCM

/* Record buffers: the gateway honours max_fragment_length (PumpTLS requests it), so the
 * incoming buffer only has to hold what the gateway may send before it is negotiated: its
 * ServerHello..ServerHelloDone flight, whose certificate is a few hundred bytes.
 * MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH shrinks both buffers to the negotiated size after the
 * handshake. */
#ifndef MEDTUNNEL_SSL_IN_CONTENT_LEN
#define MEDTUNNEL_SSL_IN_CONTENT_LEN 1024
#endif
#ifndef MEDTUNNEL_SSL_OUT_CONTENT_LEN
#define MEDTUNNEL_SSL_OUT_CONTENT_LEN 1024
#endif
#define MBEDTLS_SSL_IN_CONTENT_LEN MEDTUNNEL_SSL_IN_CONTENT_LEN
#define MBEDTLS_SSL_OUT_CONTENT_LEN MEDTUNNEL_SSL_OUT_CONTENT_LEN
#define MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH

#include "mbedtls/check_config.h"

#endif

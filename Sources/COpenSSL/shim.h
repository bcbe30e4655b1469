// Shims for OpenSSL 3 macros and 64-bit constants that Swift cannot import.
// Everything here is a thin static inline wrapper; the logic lives in GatewayTLS.
#ifndef MEDTUNNEL_COPENSSL_SHIM_H
#define MEDTUNNEL_COPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

static inline int c_mt_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int v) {
    return (int)SSL_CTX_set_min_proto_version(ctx, v);
}
static inline int c_mt_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int v) {
    return (int)SSL_CTX_set_max_proto_version(ctx, v);
}
static inline uint64_t c_mt_SSL_CTX_set_options(SSL_CTX *ctx, uint64_t options) {
    return (uint64_t)SSL_CTX_set_options(ctx, options);
}
static inline uint64_t c_mt_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t c_mt_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t c_mt_SSL_OP_CIPHER_SERVER_PREFERENCE(void) { return SSL_OP_CIPHER_SERVER_PREFERENCE; }
static inline uint64_t c_mt_SSL_OP_NO_TICKET(void) { return SSL_OP_NO_TICKET; }
static inline uint64_t c_mt_SSL_OP_NO_EXTENDED_MASTER_SECRET(void) { return SSL_OP_NO_EXTENDED_MASTER_SECRET; }

static inline int c_mt_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}
static inline int c_mt_SSL_CTX_set1_sigalgs_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_sigalgs_list(ctx, list);
}
static inline int c_mt_SSL_CTX_set1_client_sigalgs_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_client_sigalgs_list(ctx, list);
}
static inline long c_mt_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline long c_mt_SSL_CTX_sess_set_cache_size(SSL_CTX *ctx, long size) {
    return SSL_CTX_sess_set_cache_size(ctx, size);
}
static inline long c_mt_SSL_SESS_CACHE_SERVER(void) { return SSL_SESS_CACHE_SERVER; }
static inline long c_mt_SSL_SESS_CACHE_CLIENT(void) { return SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE; }
static inline long c_mt_SSL_CTX_sess_number(SSL_CTX *ctx) { return SSL_CTX_sess_number(ctx); }
static inline long c_mt_SSL_CTX_sess_hits(SSL_CTX *ctx) { return SSL_CTX_sess_hits(ctx); }

static inline int c_mt_SSL_get_extms_support(SSL *ssl) { return (int)SSL_get_extms_support(ssl); }
static inline int c_mt_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
static inline int c_mt_SSL_CTX_set_tlsext_servername_callback(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *)) {
    return (int)SSL_CTX_set_tlsext_servername_callback(ctx, cb);
}
static inline int c_mt_SSL_CTX_set_tlsext_servername_arg(SSL_CTX *ctx, void *arg) {
    return (int)SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}
static inline int c_mt_SSL_TLSEXT_ERR_OK(void) { return SSL_TLSEXT_ERR_OK; }
static inline int c_mt_SSL_TLSEXT_ERR_ALERT_FATAL(void) { return SSL_TLSEXT_ERR_ALERT_FATAL; }
static inline int c_mt_BIO_set_mem_eof_return(BIO *bio, int v) { return (int)BIO_set_mem_eof_return(bio, v); }

/// The number of SAN URIs in `cert`.
static inline int c_mt_san_uri_count(X509 *cert) {
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) return 0;
    int count = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        if (sk_GENERAL_NAME_value(names, i)->type == GEN_URI) count++;
    }
    GENERAL_NAMES_free(names);
    return count;
}

/// Copies the `index`th SAN URI of `cert` into `out` (not NUL-terminated); returns its
/// length, or -1 if there is no such URI or it does not fit in `capacity`.
static inline int c_mt_san_uri_at(X509 *cert, int index, char *out, int capacity) {
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) return -1;
    int seen = 0, result = -1;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        if (name->type != GEN_URI) continue;
        if (seen++ != index) continue;
        int length = ASN1_STRING_length(name->d.uniformResourceIdentifier);
        if (length >= 0 && length <= capacity) {
            memcpy(out, ASN1_STRING_get0_data(name->d.uniformResourceIdentifier), (size_t)length);
            result = length;
        }
        break;
    }
    GENERAL_NAMES_free(names);
    return result;
}

#endif

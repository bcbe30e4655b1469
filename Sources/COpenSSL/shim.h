// Shims for OpenSSL 3 macros and 64-bit constants that Swift cannot import.
// Everything here is a thin static inline wrapper; logic lives in GatewayTLS.
#ifndef MEDTUNNEL_COPENSSL_SHIM_H
#define MEDTUNNEL_COPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#endif

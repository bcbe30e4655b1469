// Shims for mbedTLS 2.28 (Debian 12 ships no pkg-config file; the module map links
// mbedtls, mbedx509, mbedcrypto in that order).
#ifndef MEDTUNNEL_CMBEDTLS_SHIM_H
#define MEDTUNNEL_CMBEDTLS_SHIM_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#endif

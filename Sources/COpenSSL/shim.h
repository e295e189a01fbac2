#ifndef PURSER_COPENSSL_SHIM_H
#define PURSER_COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

// OpenSSL spells these as function-like macros, which Swift does not import.

static inline long purser_ssl_set_sni(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline long purser_ssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

static inline long purser_ssl_ctx_set_modes(SSL_CTX *ctx) {
    // Retrying SSL_write with the same buffer after WANT_WRITE must be allowed when the buffer moves.
    // Partial writes: SSL_write reports each record as it leaves, so the client's count of bytes sent is
    // true; without it a write that failed after some records went out would report none sent.
    return SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
}

#endif

#ifndef PORTCULLIS_COPENSSL_SHIM_H
#define PORTCULLIS_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/bio.h>

/* Function-like macros are invisible to Swift: wrap them here. */
static inline long portcullis_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int v) {
    return SSL_CTX_set_min_proto_version(ctx, v);
}
static inline int portcullis_EVP_PKEY_CTX_set_rsa_padding(EVP_PKEY_CTX *ctx, int pad) {
    return EVP_PKEY_CTX_set_rsa_padding(ctx, pad);
}
static inline int portcullis_EVP_PKEY_CTX_set_rsa_pss_saltlen(EVP_PKEY_CTX *ctx, int len) {
    return EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, len);
}
static inline int portcullis_EVP_PKEY_CTX_set_rsa_mgf1_md(EVP_PKEY_CTX *ctx, const EVP_MD *md) {
    return EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md);
}
static inline long portcullis_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

/* JWT target: the low-level SHA-2 API is deprecated in 3.0 but is the direct implementation (no provider
 * fetch per call). HMAC states (key^ipad, key^opad) are precomputed once per key and copied per token. */
#include <openssl/sha.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static inline int portcullis_SHA256_Init(SHA256_CTX *c) { return SHA256_Init(c); }
static inline int portcullis_SHA256_Update(SHA256_CTX *c, const void *d, size_t n) { return SHA256_Update(c, d, n); }
static inline int portcullis_SHA256_Final(unsigned char *md, SHA256_CTX *c) { return SHA256_Final(md, c); }
static inline int portcullis_SHA384_Init(SHA512_CTX *c) { return SHA384_Init(c); }
static inline int portcullis_SHA384_Final(unsigned char *md, SHA512_CTX *c) { return SHA384_Final(md, c); }
static inline int portcullis_SHA512_Init(SHA512_CTX *c) { return SHA512_Init(c); }
static inline int portcullis_SHA512_Update(SHA512_CTX *c, const void *d, size_t n) { return SHA512_Update(c, d, n); }
static inline int portcullis_SHA512_Final(unsigned char *md, SHA512_CTX *c) { return SHA512_Final(md, c); }
#pragma GCC diagnostic pop
#endif

/* jwt_sign.h — token making for the security unit tests (header-only): HS* with a secret and
 * ES256 with a fresh P-256 key, signed the way an issuer would (JOSE raw r || s). */
#ifndef WEIR_TESTS_JWT_SIGN_H
#define WEIR_TESTS_JWT_SIGN_H

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "security/jwt.h"

/* header and claims JSON → "b64.b64" into out. */
static inline size_t ts_signing_input(const char *hdr, const char *claims, char *out)
{
    size_t o = jwt_b64url_encode((const uint8_t *)hdr, strlen(hdr), out);
    out[o++] = '.';
    o += jwt_b64url_encode((const uint8_t *)claims, strlen(claims), out + o);
    return o;
}

static inline void ts_hs256(const char *hdr, const char *claims, const char *secret, char *out)
{
    size_t o = ts_signing_input(hdr, claims, out);
    uint8_t mac[32];
    unsigned n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)out, o, mac, &n);
    out[o++] = '.';
    jwt_b64url_encode(mac, n, out + o);
}

static inline EVP_PKEY *ts_ec_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static inline void ts_es256(const char *hdr, const char *claims, EVP_PKEY *k, char *out)
{
    size_t o = ts_signing_input(hdr, claims, out);
    uint8_t der[128], raw[64];
    size_t dl = sizeof(der);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k);
    EVP_DigestSign(ctx, der, &dl, (const uint8_t *)out, o);
    EVP_MD_CTX_free(ctx);
    const uint8_t *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + 32, 32);
    ECDSA_SIG_free(s);
    out[o++] = '.';
    jwt_b64url_encode(raw, 64, out + o);
}

/* The public JWK of an EC P-256 key. */
static inline void ts_ec_jwk(EVP_PKEY *k, const char *kid, char *out, size_t cap)
{
    uint8_t pt[65];
    size_t n = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &n);
    char x[64], y[64];
    jwt_b64url_encode(pt + 1, 32, x);
    jwt_b64url_encode(pt + 33, 32, y);
    snprintf(out, cap, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}",
             kid, x, y);
}

#endif

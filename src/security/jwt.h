/* jwt.h — JSON Web Tokens (RFC 7519) as the JWT module checks them: a strict compact-form
 * parser and a signature check with OpenSSL 3's EVP, with the algorithm fixed by the key.
 *
 * Why the key carries the algorithm: a token's "alg" is only compared with it, never used to
 * choose how to verify, so an RS256 public key can never act as an HS256 secret (the classic
 * algorithm confusion) and "none" has no key at all. Keys are checked against their algorithm
 * when they are made (jwt_key_check): an EC key of the wrong curve, an RSA key under 2048 bits
 * or a secret shorter than the hash are refused there, not per request.
 *
 * Pure functions of their inputs; any thread (a key is immutable once made; EVP_PKEY verify
 * is thread-safe on a shared key). */
#ifndef WEIR_SECURITY_JWT_H
#define WEIR_SECURITY_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/str.h"

#define JWT_MAX_LEN 16384     /* longer tokens are refused before any decoding */
#define JWT_SIG_MAX 1024      /* RSA-8192 */

enum jwt_alg {
    JWT_ALG_NONE = 0,         /* unknown or "none": never verifies */
    JWT_HS256, JWT_HS384, JWT_HS512,
    JWT_RS256, JWT_RS384, JWT_RS512,
    JWT_PS256,
    JWT_ES256, JWT_ES384,
    JWT_EDDSA,
    JWT_ALG_COUNT,
};

enum jwt_alg jwt_alg_parse(const char *s, size_t len);
const char *jwt_alg_name(enum jwt_alg a);
bool jwt_alg_is_hmac(enum jwt_alg a);

struct jwt_key {
    char *kid;                /* NULL: an inline key that matches tokens with any kid */
    enum jwt_alg alg;
    EVP_PKEY *pkey;           /* public key (RS, PS, ES, EdDSA) */
    uint8_t *secret;          /* HS */
    size_t secret_len;
    EVP_MAC_CTX *mac;         /* HS: HMAC keyed once (jwt_key_prepare), duplicated per check */
};

/* NULL when the key fits its algorithm, else why not (static text). */
const char *jwt_key_check(const struct jwt_key *k);
/* After jwt_key_check: keys an HMAC context once, so a check costs a copy of it instead of
 * fetching the algorithm and hashing the key each time. Without it jwt_verify still works. */
void jwt_key_prepare(struct jwt_key *k);
void jwt_key_clear(struct jwt_key *k);

/* A parsed token: the decoded header and claims (owned), the signature, and where the signed
 * part of the input ends. */
struct jwt_token {
    json_t *header;
    json_t *claims;
    enum jwt_alg alg;
    const char *kid;          /* in header, or NULL */
    size_t signed_len;        /* the input's "header.payload" prefix */
    uint8_t sig[JWT_SIG_MAX];
    size_t sig_len;
};

/* Strict compact form: three base64url parts without padding (canonical encodings only), a
 * header object with a string "alg" and no "crit", a claims object, no duplicate JSON keys.
 * Returns 0, or -1 with *why set (static text); t is then empty (nothing to free). */
int jwt_parse(struct str token, struct jwt_token *t, const char **why);
void jwt_token_free(struct jwt_token *t);

/* The signature of `signed_part` (token[0..t->signed_len)) under key k; false when the token's
 * alg is not the key's. */
bool jwt_verify(const struct jwt_key *k, const struct jwt_token *t, const char *signed_part);

/* Strict base64url without padding: returns the decoded length, or -1 (bad character, a
 * length of 1 mod 4, non-zero unused bits, or more than cap bytes). */
ssize_t jwt_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/* Encodes without padding; returns the length written (out needs 4 * ceil(len / 3) + 1). */
size_t jwt_b64url_encode(const uint8_t *in, size_t len, char *out);

/* A claim's value meets `want`: equal, an array holding it, a space-separated list (OAuth's
 * scope) holding it, or a boolean / integer that prints as it. False for NULL. */
bool jwt_claim_has(json_t *v, const char *want);

#endif

/* jwt.c — see jwt.h. */
#include "security/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

static const char *const alg_names[JWT_ALG_COUNT] = {
    [JWT_ALG_NONE] = "none", [JWT_HS256] = "HS256", [JWT_HS384] = "HS384",
    [JWT_HS512] = "HS512", [JWT_RS256] = "RS256", [JWT_RS384] = "RS384",
    [JWT_RS512] = "RS512", [JWT_PS256] = "PS256", [JWT_ES256] = "ES256",
    [JWT_ES384] = "ES384", [JWT_EDDSA] = "EdDSA",
};

enum jwt_alg jwt_alg_parse(const char *s, size_t len)
{
    for (int a = 1; a < JWT_ALG_COUNT; a++)
        if (strlen(alg_names[a]) == len && memcmp(alg_names[a], s, len) == 0)
            return (enum jwt_alg)a;
    return JWT_ALG_NONE;
}

const char *jwt_alg_name(enum jwt_alg a)
{
    return a < JWT_ALG_COUNT ? alg_names[a] : "none";
}

bool jwt_alg_is_hmac(enum jwt_alg a)
{
    return a == JWT_HS256 || a == JWT_HS384 || a == JWT_HS512;
}

static const EVP_MD *alg_md(enum jwt_alg a)
{
    switch (a) {
    case JWT_HS256: case JWT_RS256: case JWT_PS256: case JWT_ES256:
        return EVP_sha256();
    case JWT_HS384: case JWT_RS384: case JWT_ES384:
        return EVP_sha384();
    case JWT_HS512: case JWT_RS512:
        return EVP_sha512();
    default:
        return NULL; /* EdDSA hashes inside; none has nothing */
    }
}

const char *jwt_key_check(const struct jwt_key *k)
{
    if (k->alg == JWT_ALG_NONE || k->alg >= JWT_ALG_COUNT)
        return "no usable algorithm ('none' is never accepted)";
    if (jwt_alg_is_hmac(k->alg)) {
        if (k->pkey || !k->secret)
            return "an HS* algorithm needs a secret, not a public key";
        if (k->secret_len < (size_t)EVP_MD_get_size(alg_md(k->alg)))
            return "the secret is shorter than the hash (RFC 7518 3.2)";
        return NULL;
    }
    if (!k->pkey || k->secret)
        return "this algorithm needs a public key, not a secret";
    switch (k->alg) {
    case JWT_RS256: case JWT_RS384: case JWT_RS512: case JWT_PS256:
        if (!EVP_PKEY_is_a(k->pkey, "RSA"))
            return "the key is not an RSA key";
        if (EVP_PKEY_get_bits(k->pkey) < 2048)
            return "the RSA key is shorter than 2048 bits";
        return NULL;
    case JWT_ES256: case JWT_ES384: {
        char group[64];
        size_t glen = 0;
        if (!EVP_PKEY_is_a(k->pkey, "EC") ||
            !EVP_PKEY_get_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                            sizeof(group), &glen))
            return "the key is not an EC key";
        const char *want = k->alg == JWT_ES256 ? "prime256v1" : "secp384r1";
        if (strcmp(group, want) != 0)
            return k->alg == JWT_ES256 ? "ES256 needs a P-256 key" : "ES384 needs a P-384 key";
        return NULL;
    }
    case JWT_EDDSA:
        return EVP_PKEY_is_a(k->pkey, "ED25519") ? NULL : "EdDSA needs an Ed25519 key";
    default:
        return "unsupported algorithm";
    }
}

void jwt_key_prepare(struct jwt_key *k)
{
    if (!jwt_alg_is_hmac(k->alg) || !k->secret || k->mac)
        return;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                         (char *)EVP_MD_get0_name(alg_md(k->alg)), 0),
        OSSL_PARAM_construct_end()};
    if (c && EVP_MAC_init(c, k->secret, k->secret_len, params) == 1)
        k->mac = c;
    else
        EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
    ERR_clear_error();
}

void jwt_key_clear(struct jwt_key *k)
{
    EVP_MAC_CTX_free(k->mac);
    free(k->kid);
    EVP_PKEY_free(k->pkey);
    if (k->secret)
        OPENSSL_cleanse(k->secret, k->secret_len);
    free(k->secret);
    *k = (struct jwt_key){0};
}

/* --- base64url --- */

static int8_t b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (int8_t)(c - 'A');
    if (c >= 'a' && c <= 'z')
        return (int8_t)(c - 'a' + 26);
    if (c >= '0' && c <= '9')
        return (int8_t)(c - '0' + 52);
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

ssize_t jwt_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len % 4 == 1)
        return -1;
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > cap)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int8_t v = b64_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* unused low bits must be zero: one encoding per value */
        return -1;
    return (ssize_t)o;
}

size_t jwt_b64url_encode(const uint8_t *in, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = tab[(acc >> bits) & 63];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits)
        out[o++] = tab[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return o;
}

/* --- parsing --- */

static json_t *decode_object(const char *p, size_t len)
{
    uint8_t buf[JWT_MAX_LEN];
    ssize_t n = jwt_b64url_decode(p, len, buf, sizeof(buf));
    if (n <= 0)
        return NULL;
    json_error_t e;
    json_t *j = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, &e);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int jwt_parse(struct str token, struct jwt_token *t, const char **why)
{
    *t = (struct jwt_token){0};
    if (token.len == 0 || token.len > JWT_MAX_LEN) {
        *why = "the token is empty or too long";
        return -1;
    }
    const char *d1 = memchr(token.ptr, '.', token.len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', token.len - (size_t)(d1 + 1 - token.ptr)) : NULL;
    const char *end = token.ptr + token.len;
    if (!d1 || !d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1))) {
        *why = "the token is not three dot-separated parts";
        return -1;
    }
    ssize_t sl = jwt_b64url_decode(d2 + 1, (size_t)(end - d2 - 1), t->sig, sizeof(t->sig));
    if (sl <= 0) {
        *why = "the signature is not base64url";
        return -1;
    }
    t->sig_len = (size_t)sl;
    t->header = decode_object(token.ptr, (size_t)(d1 - token.ptr));
    if (!t->header) {
        *why = "the header is not a base64url JSON object";
        goto bad;
    }
    json_t *alg = json_object_get(t->header, "alg");
    if (!json_is_string(alg)) {
        *why = "the header has no alg";
        goto bad;
    }
    t->alg = jwt_alg_parse(json_string_value(alg), json_string_length(alg));
    if (t->alg == JWT_ALG_NONE) {
        *why = "the algorithm is none or not supported";
        goto bad;
    }
    if (json_object_get(t->header, "crit")) {
        *why = "critical header extensions are not supported";
        goto bad;
    }
    json_t *kid = json_object_get(t->header, "kid");
    if (kid && !json_is_string(kid)) {
        *why = "the kid is not a string";
        goto bad;
    }
    t->kid = kid ? json_string_value(kid) : NULL;
    t->claims = decode_object(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!t->claims) {
        *why = "the claims are not a base64url JSON object";
        goto bad;
    }
    t->signed_len = (size_t)(d2 - token.ptr);
    return 0;
bad:
    jwt_token_free(t);
    return -1;
}

void jwt_token_free(struct jwt_token *t)
{
    json_decref(t->header);
    json_decref(t->claims);
    t->header = t->claims = NULL;
    t->kid = NULL;
}

/* --- verification --- */

static bool verify_hmac(const struct jwt_key *k, const struct jwt_token *t, const char *in)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (k->mac) {
        EVP_MAC_CTX *c = EVP_MAC_CTX_dup(k->mac);
        size_t outl = 0;
        bool ok = c && EVP_MAC_update(c, (const uint8_t *)in, t->signed_len) == 1 &&
                  EVP_MAC_final(c, mac, &outl, sizeof(mac)) == 1;
        EVP_MAC_CTX_free(c);
        return ok && t->sig_len == outl && CRYPTO_memcmp(mac, t->sig, outl) == 0;
    }
    if (!HMAC(alg_md(k->alg), k->secret, (int)k->secret_len, (const uint8_t *)in, t->signed_len,
              mac, &n))
        return false;
    return t->sig_len == n && CRYPTO_memcmp(mac, t->sig, n) == 0;
}

/* JOSE's ECDSA signature is r || s, each the curve's size; EVP wants DER. */
static int ecdsa_der(const struct jwt_token *t, size_t half, uint8_t **der)
{
    if (t->sig_len != 2 * half)
        return -1;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(t->sig, (int)half, NULL);
    BIGNUM *sv = BN_bin2bn(t->sig + half, (int)half, NULL);
    if (!s || !r || !sv || !ECDSA_SIG_set0(s, r, sv)) {
        BN_free(r);
        BN_free(sv);
        ECDSA_SIG_free(s);
        return -1;
    }
    *der = NULL;
    int n = i2d_ECDSA_SIG(s, der);
    ECDSA_SIG_free(s);
    return n;
}

static bool verify_pkey(const struct jwt_key *k, const struct jwt_token *t, const char *in)
{
    const uint8_t *sig = t->sig;
    size_t sig_len = t->sig_len;
    uint8_t *der = NULL;
    if (k->alg == JWT_ES256 || k->alg == JWT_ES384) {
        int n = ecdsa_der(t, k->alg == JWT_ES256 ? 32 : 48, &der);
        if (n <= 0)
            return false;
        sig = der;
        sig_len = (size_t)n;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = ctx && EVP_DigestVerifyInit(ctx, &pctx, alg_md(k->alg), NULL, k->pkey) == 1;
    if (ok && k->alg == JWT_PS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
    ok = ok && EVP_DigestVerify(ctx, sig, sig_len, (const uint8_t *)in, t->signed_len) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

bool jwt_verify(const struct jwt_key *k, const struct jwt_token *t, const char *signed_part)
{
    if (t->alg == JWT_ALG_NONE || t->alg != k->alg)
        return false;
    if (jwt_alg_is_hmac(k->alg))
        return k->secret && verify_hmac(k, t, signed_part);
    return k->pkey && verify_pkey(k, t, signed_part);
}

/* A claim meets `require`: equal, an array holding the value, or a space-separated list
 * (OAuth's scope) holding it. */
bool jwt_claim_has(json_t *v, const char *want)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t wl = strlen(want);
        if (!strcmp(s, want))
            return true;
        for (const char *p = s; (p = strstr(p, want)); p++)
            if ((p == s || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\0'))
                return true;
        return false;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            if (json_is_string(e) && !strcmp(json_string_value(e), want))
                return true;
        return false;
    }
    if (json_is_boolean(v))
        return !strcmp(want, json_is_true(v) ? "true" : "false");
    if (json_is_integer(v)) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return !strcmp(buf, want);
    }
    return false;
}

/* jwks.c — see jwks.h. */
#include "security/jwks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define JWK_FIELD_MAX 1024    /* RSA-8192's modulus */

/* A base64url member of the JWK, decoded into buf; -1 when absent or bad. */
static ssize_t member_b64(json_t *jwk, const char *name, uint8_t *buf, size_t cap)
{
    json_t *v = json_object_get(jwk, name);
    if (!json_is_string(v))
        return -1;
    return jwt_b64url_decode(json_string_value(v), json_string_length(v), buf, cap);
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_key(json_t *jwk)
{
    uint8_t n[JWK_FIELD_MAX], e[16];
    ssize_t nl = member_b64(jwk, "n", n, sizeof(n)), el = member_b64(jwk, "e", e, sizeof(e));
    if (nl <= 0 || el <= 0)
        return NULL;
    BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        pkey = from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

static EVP_PKEY *ec_key(json_t *jwk, enum jwt_alg *alg)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    const char *group;
    size_t size;
    if (crv && !strcmp(crv, "P-256")) {
        group = "prime256v1", size = 32, *alg = JWT_ES256;
    } else if (crv && !strcmp(crv, "P-384")) {
        group = "secp384r1", size = 48, *alg = JWT_ES384;
    } else {
        return NULL;
    }
    uint8_t pt[1 + 2 * 48];
    pt[0] = 4; /* uncompressed point */
    if (member_b64(jwk, "x", pt + 1, size) != (ssize_t)size ||
        member_b64(jwk, "y", pt + 1 + size, size) != (ssize_t)size)
        return NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * size))
        pkey = from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

static EVP_PKEY *okp_key(json_t *jwk)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    uint8_t x[32];
    if (!crv || strcmp(crv, "Ed25519") || member_b64(jwk, "x", x, sizeof(x)) != 32)
        return NULL;
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, sizeof(x));
}

/* One JWK into k; -1 when it is skipped. */
static int load_jwk(json_t *jwk, struct jwt_key *k)
{
    *k = (struct jwt_key){0};
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    json_t *jalg = json_object_get(jwk, "alg");
    json_t *jkid = json_object_get(jwk, "kid");
    if (!kty || (use && strcmp(use, "sig")) || (jalg && !json_is_string(jalg)) ||
        (jkid && !json_is_string(jkid)))
        return -1;
    enum jwt_alg alg = jalg ? jwt_alg_parse(json_string_value(jalg), json_string_length(jalg))
                            : JWT_ALG_NONE;
    if (jalg && alg == JWT_ALG_NONE)
        return -1;
    enum jwt_alg implied = JWT_ALG_NONE;
    if (!strcmp(kty, "RSA")) {
        k->pkey = rsa_key(jwk);
        implied = JWT_RS256;
    } else if (!strcmp(kty, "EC")) {
        k->pkey = ec_key(jwk, &implied);
    } else if (!strcmp(kty, "OKP")) {
        k->pkey = okp_key(jwk);
        implied = JWT_EDDSA;
    } else if (!strcmp(kty, "oct")) {
        uint8_t buf[512];
        ssize_t n = member_b64(jwk, "k", buf, sizeof(buf));
        if (n > 0 && (k->secret = malloc((size_t)n))) {
            memcpy(k->secret, buf, (size_t)n);
            k->secret_len = (size_t)n;
        }
        OPENSSL_cleanse(buf, sizeof(buf));
    }
    k->alg = alg != JWT_ALG_NONE ? alg : implied;
    if (jkid && !(k->kid = strdup(json_string_value(jkid))))
        goto skip;
    if ((!k->pkey && !k->secret) || jwt_key_check(k))
        goto skip;
    jwt_key_prepare(k);
    return 0;
skip:
    ERR_clear_error();
    jwt_key_clear(k);
    return -1;
}

int jwks_parse(const char *text, size_t len, struct jwks *out, char *err, size_t errlen)
{
    *out = (struct jwks){0};
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    json_t *keys = root ? json_object_get(root, "keys") : NULL;
    if (!json_is_array(keys)) {
        snprintf(err, errlen, root ? "no \"keys\" array" : "not JSON: %s (line %d)", je.text,
                 je.line);
        json_decref(root);
        return -1;
    }
    size_t n = json_array_size(keys);
    out->keys = calloc(n ? n : 1, sizeof(*out->keys));
    if (!out->keys) {
        snprintf(err, errlen, "out of memory");
        json_decref(root);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *jwk = json_array_get(keys, i);
        if (json_is_object(jwk) && load_jwk(jwk, &out->keys[out->n]) == 0)
            out->n++;
        else
            out->skipped++;
    }
    json_decref(root);
    return 0;
}

void jwks_free(struct jwks *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        jwt_key_clear(&s->keys[i]);
    free(s->keys);
    *s = (struct jwks){0};
}

const struct jwt_key *jwks_find(const struct jwks *s, const char *kid, enum jwt_alg alg)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const struct jwt_key *k = &s->keys[i];
        if (k->alg != alg)
            continue;
        if (!k->kid || !kid || !strcmp(k->kid, kid))
            return k;
    }
    return NULL;
}

EVP_PKEY *jwks_pem_public(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    if (!pkey && b) {
        (void)BIO_reset(b);
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        pkey = x ? X509_get_pubkey(x) : NULL;
        X509_free(x);
    }
    BIO_free(b);
    ERR_clear_error();
    return pkey;
}

/* fuzz_jwt.c — libFuzzer driver for the JWT parser and verifier (src/security/jwt.c) and the
 * JWKS parser (src/security/jwks.c): tokens and key sets come from clients and issuers.
 *
 * The input is used (1) as a compact token: parsed strictly, and when it parses, verified
 * under an HS256 secret, an ES256 key and an Ed25519 key (each must refuse it unless its alg
 * is the key's — a random input never carries a valid signature, so a `true` is a bug);
 * (2) as base64url: what decodes must encode back to the same text (one encoding per value);
 * (3) as a JWKS document: parsed, every key it yields must pass jwt_key_check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz_util.h"
#include "security/jwks.h"
#include "security/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jwt_key keys[3];

static void init_keys(void)
{
    static uint8_t secret[] = "fuzz-secret-0123456789abcdef0123456789";
    keys[0] = (struct jwt_key){.alg = JWT_HS256, .secret = secret, .secret_len = sizeof(secret) - 1};
    keys[1] = (struct jwt_key){.alg = JWT_ES256, .pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")};
    keys[2] = (struct jwt_key){.alg = JWT_EDDSA, .pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")};
    for (int i = 0; i < 3; i++)
        CHECK(jwt_key_check(&keys[i]) == NULL);
    jwt_key_prepare(&keys[0]);
    CHECK(keys[0].mac != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!keys[0].secret)
        init_keys();
    char *buf = fuzz_dup(data, size);

    /* (1) a token */
    struct jwt_token t;
    const char *why = NULL;
    if (jwt_parse(str_from(buf, size), &t, &why) == 0) {
        CHECK(t.header && t.claims && t.alg != JWT_ALG_NONE && t.signed_len < size);
        for (int i = 0; i < 3; i++)
            CHECK(!jwt_verify(&keys[i], &t, buf));
        jwt_token_free(&t);
    } else {
        CHECK(why != NULL && t.header == NULL && t.claims == NULL);
    }

    /* (2) base64url round trip */
    uint8_t *dec = malloc(size + 1);
    CHECK(dec != NULL);
    ssize_t n = jwt_b64url_decode(buf, size, dec, size);
    if (n >= 0) {
        char *enc = malloc(size + 4);
        CHECK(enc != NULL);
        size_t el = jwt_b64url_encode(dec, (size_t)n, enc);
        CHECK(el == size && memcmp(enc, buf, size) == 0);
        free(enc);
    }
    free(dec);

    /* (3) a key set */
    struct jwks set;
    char err[160];
    if (jwks_parse(buf, size, &set, err, sizeof(err)) == 0) {
        for (uint32_t i = 0; i < set.n; i++)
            CHECK(jwt_key_check(&set.keys[i]) == NULL);
        jwks_free(&set);
    }
    free(buf);
    return 0;
}

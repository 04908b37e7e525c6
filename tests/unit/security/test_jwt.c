/* test_jwt.c — the JWT parser and verifier, JWKS parsing, the token cache and the revocation
 * list, as pure functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "jwt_sign.h"
#include "security/jwks.h"
#include "security/revocation.h"
#include "security/token_cache.h"

#define SECRET "0123456789abcdef0123456789abcdef"

static void test_b64url_strict(void **state)
{
    (void)state;
    uint8_t out[16];
    assert_int_equal(jwt_b64url_decode("YWJj", 4, out, sizeof(out)), 3);
    assert_memory_equal(out, "abc", 3);
    assert_int_equal(jwt_b64url_decode("YWI", 3, out, sizeof(out)), 2);
    assert_int_equal(jwt_b64url_decode("YQ", 2, out, sizeof(out)), 1);
    assert_int_equal(jwt_b64url_decode("YR", 2, out, sizeof(out)), -1);   /* non-zero bits */
    assert_int_equal(jwt_b64url_decode("YWJ", 3, out, sizeof(out)), -1);  /* ditto */
    assert_int_equal(jwt_b64url_decode("Y", 1, out, sizeof(out)), -1);    /* 1 mod 4 */
    assert_int_equal(jwt_b64url_decode("YQ==", 4, out, sizeof(out)), -1); /* padding */
    assert_int_equal(jwt_b64url_decode("Y+8/", 4, out, sizeof(out)), -1); /* base64, not url */
    assert_int_equal(jwt_b64url_decode("-_-_", 4, out, sizeof(out)), 3);
    assert_int_equal(jwt_b64url_decode("YWJjYWJj", 8, out, 5), -1);       /* cap */
    char enc[16];
    assert_int_equal(jwt_b64url_encode((const uint8_t *)"ab", 2, enc), 3);
    assert_string_equal(enc, "YWI");
}

static void test_parse_rejects(void **state)
{
    (void)state;
    struct jwt_token t;
    const char *why;
    char tok[1024];
    static const char *const bad[] = {
        "", "a", "a.b", "a.b.c.d", "e30.e30.", "e30.e30.AA", /* {} header: no alg */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(jwt_parse(str_cstr(bad[i]), &t, &why), -1);
    ts_hs256("{\"alg\":\"none\"}", "{}", SECRET, tok);
    assert_int_equal(jwt_parse(str_cstr(tok), &t, &why), -1);
    ts_hs256("{\"alg\":\"HS256\",\"crit\":[\"x\"]}", "{}", SECRET, tok);
    assert_int_equal(jwt_parse(str_cstr(tok), &t, &why), -1);
    ts_hs256("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "{}", SECRET, tok); /* duplicate key */
    assert_int_equal(jwt_parse(str_cstr(tok), &t, &why), -1);
    ts_hs256("{\"alg\":\"HS256\"}", "[1]", SECRET, tok); /* claims not an object */
    assert_int_equal(jwt_parse(str_cstr(tok), &t, &why), -1);
    ts_hs256("{\"alg\":\"HS256\",\"kid\":7}", "{}", SECRET, tok);
    assert_int_equal(jwt_parse(str_cstr(tok), &t, &why), -1);
}

static void test_hs256_verify(void **state)
{
    (void)state;
    char tok[1024];
    ts_hs256("{\"alg\":\"HS256\",\"kid\":\"a\"}", "{\"sub\":\"x\"}", SECRET, tok);
    struct jwt_token t;
    const char *why;
    assert_int_equal(jwt_parse(str_cstr(tok), &t, &why), 0);
    assert_string_equal(t.kid, "a");
    struct jwt_key k = {.alg = JWT_HS256, .secret = (uint8_t *)SECRET, .secret_len = 32};
    assert_null(jwt_key_check(&k));
    assert_true(jwt_verify(&k, &t, tok));
    k.secret_len = 31;
    assert_false(jwt_verify(&k, &t, tok));
    k.secret_len = 32;
    k.alg = JWT_HS384; /* the key decides: a token of another algorithm never verifies */
    assert_false(jwt_verify(&k, &t, tok));
    jwt_token_free(&t);
    struct jwt_key shortk = {.alg = JWT_HS256, .secret = (uint8_t *)"short", .secret_len = 5};
    assert_non_null(jwt_key_check(&shortk));
}

static void test_es256_and_jwks(void **state)
{
    (void)state;
    EVP_PKEY *pk = ts_ec_key();
    assert_non_null(pk);
    char jwk[512], doc[1200], tok[1024];
    ts_ec_jwk(pk, "ec1", jwk, sizeof(jwk));
    snprintf(doc, sizeof(doc),
             "{\"keys\":[%s,{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"},{\"kty\":\"RSA\",\"use\":\"enc\"}]}",
             jwk);
    struct jwks set;
    char err[128];
    assert_int_equal(jwks_parse(doc, strlen(doc), &set, err, sizeof(err)), 0);
    assert_int_equal(set.n, 1);
    assert_int_equal(set.skipped, 2); /* an oct key without alg, an encryption key */
    assert_int_equal(set.keys[0].alg, JWT_ES256);
    ts_es256("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", "{\"sub\":\"x\"}", pk, tok);
    struct jwt_token t;
    const char *why;
    assert_int_equal(jwt_parse(str_cstr(tok), &t, &why), 0);
    const struct jwt_key *k = jwks_find(&set, t.kid, t.alg);
    assert_non_null(k);
    assert_true(jwt_verify(k, &t, tok));
    assert_null(jwks_find(&set, "other", t.alg));
    assert_null(jwks_find(&set, "ec1", JWT_HS256));
    t.sig[5] ^= 1;
    assert_false(jwt_verify(k, &t, tok));
    t.sig_len = 63;
    assert_false(jwt_verify(k, &t, tok));
    jwt_token_free(&t);
    jwks_free(&set);
    assert_int_equal(jwks_parse("[]", 2, &set, err, sizeof(err)), -1);
    assert_int_equal(jwks_parse("{", 1, &set, err, sizeof(err)), -1);
    EVP_PKEY_free(pk);
}

static void test_token_cache(void **state)
{
    (void)state;
    struct token_cache *c = token_cache_new(64);
    uint8_t h[32] = {1, 2, 3};
    char out[64];
    assert_int_equal(token_cache_get(c, h, 100, 1, out, sizeof(out)), -1);
    token_cache_put(c, h, 200, 1, "rec", 3);
    assert_int_equal(token_cache_get(c, h, 100, 1, out, sizeof(out)), 3);
    assert_memory_equal(out, "rec", 3);
    assert_int_equal(token_cache_get(c, h, 200, 1, out, sizeof(out)), -1); /* expired */
    assert_int_equal(token_cache_get(c, h, 100, 2, out, sizeof(out)), -1); /* new keys */
    for (uint32_t i = 0; i < 10000; i++) { /* bounded: fills and replaces */
        uint8_t k[32] = {0};
        memcpy(k, &i, sizeof(i));
        token_cache_put(c, k, 1000 + i, 1, "x", 1);
    }
    token_cache_free(c);
}

static void test_revocation_memory(void **state)
{
    (void)state;
    void *st = revocation_memory.open(4);
    const struct revocation_ops *o = &revocation_memory;
    assert_int_equal(o->add(st, REVOKE_JTI, STR_LIT("a"), 100, 10), 0);
    assert_true(o->contains(st, REVOKE_JTI, STR_LIT("a"), 50));
    assert_false(o->contains(st, REVOKE_SUB, STR_LIT("a"), 50));
    assert_false(o->contains(st, REVOKE_JTI, STR_LIT("a"), 100)); /* expired */
    assert_int_equal(o->add(st, REVOKE_SUB, STR_LIT("b"), 100, 10), 0);
    assert_int_equal(o->add(st, REVOKE_SUB, STR_LIT("c"), 100, 10), 0);
    assert_int_equal(o->add(st, REVOKE_SUB, STR_LIT("d"), 100, 10), 0);
    assert_int_equal(o->add(st, REVOKE_SUB, STR_LIT("e"), 100, 10), -1); /* full */
    assert_int_equal(o->add(st, REVOKE_SUB, STR_LIT("e"), 300, 200), 0); /* expired swept */
    assert_int_equal(o->size(st), 1);
    o->close(st);
    assert_true(revocation_empty());
    assert_false(revocation_check(STR_LIT("j"), STR_LIT("s"), 10));
    assert_int_equal(revocation_add(REVOKE_SUB, STR_LIT("s"), 100, 10), 0);
    assert_true(revocation_check(STR_LIT("j"), STR_LIT("s"), 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_strict),   cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_hs256_verify),    cmocka_unit_test(test_es256_and_jwks),
        cmocka_unit_test(test_token_cache),     cmocka_unit_test(test_revocation_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_accept_encoding.c — Accept-Encoding parsing and negotiation: q-values and their
 * precision, ties broken by the server's order, "*", identity and its exclusion, q=0
 * exclusions, case and whitespace, several field lines, x-gzip, malformed elements treated as
 * absent (one by one, beside good ones, with control and high bytes), huge inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "modules/compress/accept_encoding.h"

static const struct str prefs3[] = {STR_LIT("zstd"), STR_LIT("br"), STR_LIT("gzip")};

/* Negotiates one header value against prefs3: 0 zstd, 1 br, 2 gzip, or the negative codes. */
static int nego(const char *value)
{
    struct str v = str_cstr(value);
    return accept_encoding_negotiate(&v, 1, prefs3, 3);
}

static int nego_with(const char *value, const struct str *prefs, size_t n)
{
    struct str v = str_cstr(value);
    return accept_encoding_negotiate(&v, 1, prefs, n);
}

enum { ZSTD = 0, BR = 1, GZIP = 2, IDENT = ACCEPT_ENCODING_IDENTITY, NONE = ACCEPT_ENCODING_NONE };

static void test_iterate_elements(void **state)
{
    (void)state;
    struct str v[] = {STR_LIT(" gzip , ,br;q=0.3,,c;bad, d ;Q=1 ,"), STR_LIT(""),
                      STR_LIT("*;q=0")};
    struct accept_encoding_iter it;
    struct accept_encoding_item item;
    static const char *const want[] = {"gzip", "br", "d", "*"};
    static const int want_q[] = {1000, 300, 1000, 0};
    accept_encoding_iter_init(&it, v, 3);
    for (size_t i = 0; i < 4; i++) {
        assert_true(accept_encoding_next(&it, &item));
        assert_true(str_eq(item.coding, str_cstr(want[i])));
        assert_int_equal(item.q, want_q[i]);
    }
    assert_false(accept_encoding_next(&it, &item));
    assert_false(accept_encoding_next(&it, &item));
    accept_encoding_iter_init(&it, NULL, 0);
    assert_false(accept_encoding_next(&it, &item));
}

static void test_qvalues(void **state)
{
    (void)state;
    assert_int_equal(nego("gzip;q=0.5, br;q=0.8"), BR);
    assert_int_equal(nego("gzip;q=0.9, br;q=0.8"), GZIP);
    assert_int_equal(nego("gzip;q=0.002, br;q=0.001"), GZIP);
    assert_int_equal(nego("br;q=0.001"), BR);
    assert_int_equal(nego("gzip;q=1.000, zstd;q=0.999"), GZIP);
    assert_int_equal(nego("gzip;q=1, zstd;q=0.99"), GZIP);
    assert_int_equal(nego("gzip;q=0., zstd;q=0.0"), IDENT);
    struct str v = STR_LIT("br;q=0.25");
    assert_int_equal(accept_encoding_q(&v, 1, STR_LIT("br")), 250);
    assert_int_equal(accept_encoding_q(&v, 1, STR_LIT("gzip")), -1);
}

static void test_ties_follow_server_order(void **state)
{
    (void)state;
    assert_int_equal(nego("gzip, deflate, br, zstd"), ZSTD);
    assert_int_equal(nego("gzip, deflate, br"), BR);
    assert_int_equal(nego("gzip;q=0.5, br;q=0.5"), BR);
    const struct str gz_first[] = {STR_LIT("gzip"), STR_LIT("br")};
    assert_int_equal(nego_with("br, gzip", gz_first, 2), 0);
    assert_int_equal(nego_with("br;q=1, gzip;q=0.9", gz_first, 2), 1);
}

static void test_wildcard(void **state)
{
    (void)state;
    assert_int_equal(nego("*"), ZSTD);
    assert_int_equal(nego("*;q=0.1"), ZSTD);
    assert_int_equal(nego("gzip, *;q=0.5"), GZIP); /* explicit 1 beats the wildcard's 0.5 */
    assert_int_equal(nego("zstd;q=0, br;q=0, *"), GZIP);
    assert_int_equal(nego("zstd;q=0, *;q=0.5"), BR);
    assert_int_equal(nego("*;q=0"), NONE); /* identity excluded too */
    assert_int_equal(nego("*;q=0, identity"), IDENT);
    assert_int_equal(nego("*;q=0, gzip;q=0.3"), GZIP);
    /* the wildcard ranks identity too: 1 against gzip's 0.5, identity wins */
    assert_int_equal(nego("gzip;q=0.5, *;q=0"), GZIP);
    const struct str gz[] = {STR_LIT("gzip")};
    assert_int_equal(nego_with("gzip;q=0.5, *", gz, 1), IDENT);
    assert_int_equal(nego_with("gzip;q=0.5", gz, 1), 0);
}

static void test_identity(void **state)
{
    (void)state;
    assert_int_equal(nego("identity"), IDENT);
    assert_int_equal(nego("identity;q=0"), NONE);
    assert_int_equal(nego("identity;q=0, gzip"), GZIP);
    assert_int_equal(nego("identity;q=0, gzip;q=0"), NONE);
    assert_int_equal(nego("gzip;q=0.5, identity"), IDENT);
    assert_int_equal(nego("gzip;q=0.5, identity;q=0.5"), GZIP); /* a tie: the coding */
    assert_int_equal(nego("gzip;q=0.5, identity;q=0.4"), GZIP);
    assert_int_equal(nego("IDENTITY;q=0, br"), BR);
}

static void test_exclusions(void **state)
{
    (void)state;
    assert_int_equal(nego("gzip;q=0"), IDENT);
    assert_int_equal(nego("gzip;q=0, br;q=0, zstd;q=0"), IDENT);
    assert_int_equal(nego("zstd;q=0, gzip"), GZIP);
    /* listed twice: the lower weight counts */
    assert_int_equal(nego("zstd, zstd;q=0, gzip"), GZIP);
    assert_int_equal(nego("zstd;q=0, zstd, gzip"), GZIP);
    assert_int_equal(nego("br;q=0.9, br;q=0.2, gzip;q=0.5"), GZIP);
}

static void test_absent_and_empty(void **state)
{
    (void)state;
    assert_int_equal(accept_encoding_negotiate(NULL, 0, prefs3, 3), IDENT);
    assert_int_equal(nego(""), IDENT);
    assert_int_equal(nego(" , ,, "), IDENT);
    assert_int_equal(nego("deflate, compress"), IDENT);
    struct str v = STR_LIT("gzip");
    assert_int_equal(accept_encoding_negotiate(&v, 1, NULL, 0), IDENT);
}

static void test_case_and_whitespace(void **state)
{
    (void)state;
    assert_int_equal(nego("GZIP"), GZIP);
    assert_int_equal(nego("Br;Q=0.5, GZip;q=0.4"), BR);
    assert_int_equal(nego(" \tgzip \t; \tq=0.5\t ,  br\t;q=0.6 "), BR);
    assert_int_equal(nego("x-gzip"), GZIP);
    assert_int_equal(nego("X-GZIP;q=0.5, br;q=0.4"), GZIP);
    assert_int_equal(nego("x-gzip;q=0, gzip"), IDENT); /* the same coding: lowest q */
}

static void test_several_field_lines(void **state)
{
    (void)state;
    struct str v[] = {STR_LIT("gzip;q=0.1"), STR_LIT("br"), STR_LIT("zstd;q=0")};
    assert_int_equal(accept_encoding_negotiate(v, 3, prefs3, 3), BR);
    assert_int_equal(accept_encoding_negotiate(v, 1, prefs3, 3), GZIP);
    struct str w[] = {STR_LIT("identity;q=0"), STR_LIT("")};
    assert_int_equal(accept_encoding_negotiate(w, 2, prefs3, 3), NONE);
}

/* Each malformed element is as if absent: gzip alone then means identity, and a good element
 * beside it still counts. */
static void test_malformed_elements(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "gzip;q=2",       "gzip;q=1.5",    "gzip;q=1.001",     "gzip;q=0.5000",
        "gzip;q=-0.5",    "gzip;q=.5",     "gzip;q=",          "gzip;q",
        "gzip;",          "gzip;;q=1",     "gzip;level=1",     "gzip;q=0.5;q=0.6",
        "gzip ; q = 0.5", "gzip;q =0.5",   "gzip;q=0.5x",      "\"gzip\"",
        "g zip",          "gzip/1",        "gzip;q=\"0.5\"",   "gzip\x01",
        "gz\xc3\xa9ip",   "gzip;q=0,5",    "gzip;q=1.0.0",     "gzip=1",
        "gzip;q=0.5 1",   "(gzip)",        "gzip;x;q=1",       "gzip;q=1e0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int got = nego(bad[i]);
        if (strcmp(bad[i], "gzip;q=0,5") == 0) {
            assert_int_equal(got, IDENT); /* "gzip;q=0" then "5": gzip excluded */
            continue;
        }
        if (got != IDENT)
            fail_msg("\"%s\" gave %d", bad[i], got);
        char both[64];
        snprintf(both, sizeof(both), "%s, br;q=0.5", bad[i]);
        assert_int_equal(nego(both), BR);
    }
    /* an unparsable weight on identity;q=0 leaves identity acceptable */
    assert_int_equal(nego("identity;q=zero"), IDENT);
    /* a NUL inside the slice is just a bad byte */
    struct str v = str_from("gzip\0, br", 9);
    assert_int_equal(accept_encoding_negotiate(&v, 1, prefs3, 3), BR);
}

static void test_huge_input(void **state)
{
    (void)state;
    const size_t n = 1 << 20;
    char *big = malloc(n + 32);
    assert_non_null(big);
    for (size_t i = 0; i < n; i += 4) /* n is a multiple of 4 */
        memcpy(big + i, "x,  ", 4);
    memcpy(big + n, "br;q=0.7, gzip;q=0.6", 20);
    struct str v = str_from(big, n + 20);
    assert_int_equal(accept_encoding_negotiate(&v, 1, prefs3, 3), BR);
    /* one giant token and a giant run of whitespace */
    memset(big, 'a', n);
    v = str_from(big, n);
    assert_int_equal(accept_encoding_negotiate(&v, 1, prefs3, 3), IDENT);
    memset(big, ' ', n);
    memcpy(big + n - 4, "zstd", 4);
    assert_int_equal(accept_encoding_negotiate(&v, 1, prefs3, 3), ZSTD);
    /* 100k repetitions: the lowest weight counts */
    size_t len = 0;
    for (int i = 0; i < 100000 && len + 16 < n; i++)
        len += (size_t)sprintf(big + len, "gzip;q=0.%d,", 9 - i % 9);
    v = str_from(big, len);
    assert_int_equal(accept_encoding_q(&v, 1, STR_LIT("gzip")), 100);
    free(big);
}

static void test_many_prefs(void **state)
{
    (void)state;
    struct str prefs[ACCEPT_ENCODING_MAX_PREFS + 2];
    for (size_t i = 0; i < ACCEPT_ENCODING_MAX_PREFS + 2; i++)
        prefs[i] = STR_LIT("other");
    prefs[ACCEPT_ENCODING_MAX_PREFS - 1] = STR_LIT("br");
    prefs[ACCEPT_ENCODING_MAX_PREFS] = STR_LIT("gzip"); /* past the limit: ignored */
    struct str v = STR_LIT("gzip, br;q=0.1");
    assert_int_equal(accept_encoding_negotiate(&v, 1, prefs, ACCEPT_ENCODING_MAX_PREFS + 2),
                     ACCEPT_ENCODING_MAX_PREFS - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iterate_elements),
        cmocka_unit_test(test_qvalues),
        cmocka_unit_test(test_ties_follow_server_order),
        cmocka_unit_test(test_wildcard),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_exclusions),
        cmocka_unit_test(test_absent_and_empty),
        cmocka_unit_test(test_case_and_whitespace),
        cmocka_unit_test(test_several_field_lines),
        cmocka_unit_test(test_malformed_elements),
        cmocka_unit_test(test_huge_input),
        cmocka_unit_test(test_many_prefs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_tls_sni.c — choosing certificates by SNI: exact and wildcard matching (one label,
 * case-insensitive, a trailing dot), exact before wildcard, listing order, no duplicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tls/tls_sni.h"

static bool m(const char *pattern, const char *host)
{
    return tls_sni_match(pattern, host, strlen(host));
}

static void test_match(void **state)
{
    (void)state;
    assert_true(m("example.com", "example.com"));
    assert_true(m("example.com", "EXAMPLE.com"));
    assert_true(m("example.com", "example.com."));
    assert_false(m("example.com", "www.example.com"));
    assert_false(m("example.com", "example.co"));
    assert_true(m("*.example.com", "a.example.com"));
    assert_true(m("*.example.com", "A.Example.COM"));
    assert_false(m("*.example.com", "example.com"));
    assert_false(m("*.example.com", ".example.com"));
    assert_false(m("*.example.com", "a.b.example.com"));
    assert_false(m("*.example.com", "aexample.com"));
    assert_false(m("*.", "a."));
}

static uint32_t lookup(const struct tls_sni_table *t, const char *host, uint32_t *out)
{
    return tls_sni_lookup(t, host, strlen(host), out, 8);
}

static void test_lookup(void **state)
{
    (void)state;
    struct tls_sni_table t = {0};
    /* cert 0: a.test + *.wild.test; cert 1 (RSA twin of 0): a.test; cert 2: *.a.test;
     * cert 3: x.wild.test. */
    assert_int_equal(tls_sni_add(&t, "A.test", 6, 0), 0);
    assert_int_equal(tls_sni_add(&t, "*.wild.test", 11, 0), 0);
    assert_int_equal(tls_sni_add(&t, "a.test", 6, 1), 0);
    assert_int_equal(tls_sni_add(&t, "*.a.test", 8, 2), 0);
    assert_int_equal(tls_sni_add(&t, "x.wild.test", 11, 3), 0);
    uint32_t out[8];
    assert_int_equal(lookup(&t, "a.test", out), 2);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 1);
    assert_int_equal(lookup(&t, "x.wild.test", out), 1); /* exact beats the wildcard */
    assert_int_equal(out[0], 3);
    assert_int_equal(lookup(&t, "y.wild.test", out), 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(lookup(&t, "www.a.test", out), 1);
    assert_int_equal(out[0], 2);
    assert_int_equal(lookup(&t, "unknown.test", out), 0);
    assert_int_equal(tls_sni_lookup(&t, "", 0, out, 8), 0);
    tls_sni_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_cache_vary.c — Vary (RFC 9111 §4.1): names normalised, `*`, values normalised (lines
 * joined, whitespace, Accept* case), absent vs empty, matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cache/cache_vary.h"

static void add(struct h1_request *r, const char *n, const char *v)
{
    r->headers[r->nheaders++] = (struct h1_header){.name = str_cstr(n), .value = str_cstr(v)};
}

static struct str names_of(const char *v, char *buf, size_t cap)
{
    struct str s = str_cstr(v);
    int n = cache_vary_names(&s, 1, buf, cap);
    assert_true(n >= 0);
    return str_from(buf, (size_t)n);
}

static void test_names(void **state)
{
    (void)state;
    char buf[256];
    struct str n = names_of(" Accept-Encoding ,  X-Foo", buf, sizeof(buf));
    assert_true(str_eq(n, STR_LIT("accept-encoding,x-foo")));
    struct str star = STR_LIT("Accept, *");
    assert_int_equal(cache_vary_names(&star, 1, buf, sizeof(buf)), -2);
    struct str lines[2] = {STR_LIT("A"), STR_LIT("B")};
    assert_int_equal(cache_vary_names(lines, 2, buf, sizeof(buf)), 3);
    assert_int_equal(cache_vary_names(lines, 2, buf, 2), -1);
}

static void test_match_normalised(void **state)
{
    (void)state;
    char nb[256], kb[512];
    struct str names = names_of("Accept-Encoding, X-Lang", nb, sizeof(nb));
    struct h1_request a = {0}, b = {0}, c = {0};
    add(&a, "Accept-Encoding", "gzip, br");
    add(&a, "X-Lang", "en");
    /* the same values, other whitespace, other case for Accept*, split over lines */
    add(&b, "accept-encoding", "GZIP");
    add(&b, "Accept-Encoding", " br ");
    add(&b, "x-lang", "en");
    int n = cache_vary_key(names, &a, kb, sizeof(kb));
    assert_true(n > 0);
    struct str key = str_from(kb, (size_t)n);
    assert_true(cache_vary_match(names, key, &a));
    assert_true(cache_vary_match(names, key, &b));
    /* other value: no match; X-Lang's case matters */
    add(&c, "Accept-Encoding", "gzip, br");
    add(&c, "X-Lang", "EN");
    assert_false(cache_vary_match(names, key, &c));
}

static void test_absent_vs_empty(void **state)
{
    (void)state;
    char nb[64], kb[128];
    struct str names = names_of("X-A", nb, sizeof(nb));
    struct h1_request none = {0}, empty = {0};
    add(&empty, "X-A", "");
    int n = cache_vary_key(names, &none, kb, sizeof(kb));
    struct str key = str_from(kb, (size_t)n);
    assert_true(cache_vary_match(names, key, &none));
    assert_false(cache_vary_match(names, key, &empty));
}

static void test_no_vary_matches_all(void **state)
{
    (void)state;
    struct h1_request r = {0};
    add(&r, "X-A", "1");
    assert_true(cache_vary_match(STR_NULL, STR_NULL, &r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names), cmocka_unit_test(test_match_normalised),
        cmocka_unit_test(test_absent_vs_empty), cmocka_unit_test(test_no_vary_matches_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

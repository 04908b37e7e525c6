/* test_cache_key.c — keys: scheme + host (lowercased) + path + query, ignored query
 * parameters, headers and cookies added, absolute-form targets, URLs from the admin API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cache/cache_key.h"
#include "http/h1.h"

static struct str key(const struct h1_request *r, const struct cache_key_conf *kc, char *buf)
{
    int n = cache_key_build(r, false, kc, buf, 512);
    assert_true(n > 0);
    return str_from(buf, (size_t)n);
}

static void test_default(void **state)
{
    (void)state;
    char buf[512];
    struct h1_request r = {.target = STR_LIT("/a/b?x=1&y=2"), .host = STR_LIT("Example.COM")};
    assert_true(str_eq(key(&r, NULL, buf), STR_LIT("http://example.com/a/b?x=1&y=2")));
    int n = cache_key_build(&r, true, NULL, buf, 512);
    assert_true(str_eq(str_from(buf, (size_t)n), STR_LIT("https://example.com/a/b?x=1&y=2")));
    assert_int_equal(cache_key_build(&r, false, NULL, buf, 10), -1);
}

static void test_absolute_form(void **state)
{
    (void)state;
    char buf[512];
    struct h1_request r = {.target = STR_LIT("http://example.com/p?q"),
                           .host = STR_LIT("example.com"), .flags = H1F_ABSOLUTE_FORM};
    assert_true(str_eq(key(&r, NULL, buf), STR_LIT("http://example.com/p?q")));
}

static void test_ignore_params(void **state)
{
    (void)state;
    char buf[512];
    char *ign[] = {"utm_source", "fbclid"};
    struct cache_key_conf kc = {.ignore_params = ign, .nignore = 2};
    struct h1_request r = {.target = STR_LIT("/a?utm_source=x&id=3&fbclid=9&z"),
                           .host = STR_LIT("h")};
    assert_true(str_eq(key(&r, &kc, buf), STR_LIT("http://h/a?id=3&z")));
    r.target = STR_LIT("/a?utm_source=x");
    assert_true(str_eq(key(&r, &kc, buf), STR_LIT("http://h/a")));
}

static void test_headers_and_cookies(void **state)
{
    (void)state;
    char buf[512];
    char *hs[] = {"X-Tenant"}, *cs[] = {"lang"};
    struct cache_key_conf kc = {.headers = hs, .nheaders = 1, .cookies = cs, .ncookies = 1};
    struct h1_request r = {.target = STR_LIT("/"), .host = STR_LIT("h"), .nheaders = 2};
    r.headers[0] = (struct h1_header){STR_LIT("x-tenant"), STR_LIT("acme")};
    r.headers[1] = (struct h1_header){STR_LIT("Cookie"), STR_LIT("a=1; lang=fr")};
    assert_true(str_eq(key(&r, &kc, buf), STR_LIT("http://h/\nh:X-Tenant=acme\nc:lang=fr")));
}

static void test_from_url(void **state)
{
    (void)state;
    char buf[128];
    int n = cache_key_from_url(STR_LIT("HTTP://Example.com/A?b"), buf, sizeof(buf));
    assert_true(str_eq(str_from(buf, (size_t)n), STR_LIT("http://example.com/A?b")));
    n = cache_key_from_url(STR_LIT("http://h"), buf, sizeof(buf));
    assert_true(str_eq(str_from(buf, (size_t)n), STR_LIT("http://h/")));
    assert_int_equal(cache_key_from_url(STR_LIT("/relative"), buf, sizeof(buf)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default), cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_ignore_params), cmocka_unit_test(test_headers_and_cookies),
        cmocka_unit_test(test_from_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_cache_fresh.c — freshness lifetime (RFC 9111 §4.2.1, §4.2.2) and age (§4.2.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cache/cache_fresh.h"

static struct cache_control cc_of(const char *v)
{
    struct cache_control cc;
    cache_control_init(&cc);
    cache_control_parse(&cc, str_cstr(v));
    return cc;
}

static struct cache_times times(int64_t date)
{
    return (struct cache_times){.request_time = date, .response_time = date, .date = date,
                                .last_modified = CACHE_ABSENT};
}

static void test_order_of_sources(void **state)
{
    (void)state;
    struct cache_times t = times(1000);
    t.has_expires = true;
    t.expires = 1500;
    struct cache_control cc = cc_of("max-age=60, s-maxage=30");
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 200, 0, 86400), 30); /* s-maxage first */
    cc = cc_of("max-age=60");
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 200, 0, 86400), 60); /* then max-age */
    cc = cc_of("");
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 200, 0, 86400), 500); /* Expires - Date */
    t.expires = 900;
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 200, 0, 86400), 0); /* in the past */
}

static void test_invalid_is_stale(void **state)
{
    (void)state;
    struct cache_times t = times(1000);
    struct cache_control cc = cc_of("max-age=x");
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 200, 3600, 86400), 0);
}

static void test_heuristic(void **state)
{
    (void)state;
    struct cache_times t = times(100000);
    t.last_modified = 100000 - 5000;
    struct cache_control cc = cc_of("");
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 200, 0, 86400), 500); /* 10 % */
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 200, 0, 100), 100);   /* capped */
    /* not for a status that is not heuristically cacheable */
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 302, 0, 86400), 0);
    /* unless public */
    cc = cc_of("public");
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 302, 0, 86400), 500);
}

static void test_default_ttl(void **state)
{
    (void)state;
    struct cache_times t = times(1000);
    struct cache_control cc = cc_of("");
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 200, 42, 86400), 42);
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 200, 0, 86400), 0);
    assert_int_equal(cache_fresh_lifetime(&cc, &t, 500, 42, 86400), 0);
}

static void test_age(void **state)
{
    (void)state;
    /* request at 100, response at 102 dated 101 with Age 5: corrected = 5 + 2 = 7,
     * apparent = 1; initial 7; 10 s later 17 */
    struct cache_times t = {.request_time = 100, .response_time = 102, .date = 101,
                            .age_value = 5, .last_modified = CACHE_ABSENT};
    assert_int_equal(cache_fresh_age(&t, 102), 7);
    assert_int_equal(cache_fresh_age(&t, 112), 17);
    /* a Date far in the past: apparent age wins */
    t = (struct cache_times){.request_time = 100, .response_time = 100, .date = 40};
    assert_int_equal(cache_fresh_age(&t, 100), 60);
    /* a Date in the future: never negative */
    t = (struct cache_times){.request_time = 100, .response_time = 100, .date = 500};
    assert_int_equal(cache_fresh_age(&t, 100), 0);
}

static void test_parse_age(void **state)
{
    (void)state;
    int64_t v = -1;
    assert_true(cache_fresh_parse_age(STR_LIT("30"), &v));
    assert_int_equal(v, 30);
    assert_true(cache_fresh_parse_age(STR_LIT(" 99999999999 "), &v));
    assert_int_equal(v, CACHE_DELTA_MAX);
    assert_true(cache_fresh_parse_age(STR_LIT("7, 3600"), &v));
    assert_int_equal(v, 7);
    assert_false(cache_fresh_parse_age(STR_LIT("-1"), &v));
    assert_false(cache_fresh_parse_age(STR_LIT("1.5"), &v));
    assert_false(cache_fresh_parse_age(STR_LIT(""), &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_of_sources), cmocka_unit_test(test_invalid_is_stale),
        cmocka_unit_test(test_heuristic),        cmocka_unit_test(test_default_ttl),
        cmocka_unit_test(test_age),              cmocka_unit_test(test_parse_age),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

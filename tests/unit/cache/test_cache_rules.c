/* test_cache_rules.c — storing (RFC 9111 §3, §3.5) and reuse (§4, §4.2.4, RFC 5861). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cache/cache_rules.h"

static struct cache_control cc_of(const char *v)
{
    struct cache_control cc;
    cache_control_init(&cc);
    cache_control_parse(&cc, str_cstr(v));
    return cc;
}

static enum cache_store_verdict storable(uint16_t status, const char *req, const char *resp,
                                         bool auth, bool expires, bool validator, int64_t ttl)
{
    struct cache_control rq = cc_of(req), rs = cc_of(resp);
    struct cache_store_facts f = {.status = status, .req = &rq, .resp = &rs,
                                  .authorization = auth, .has_expires = expires,
                                  .has_validator = validator, .default_ttl = ttl};
    return cache_rules_storable(&f);
}

static void test_store(void **state)
{
    (void)state;
    assert_int_equal(storable(200, "", "max-age=60", false, false, false, 0), CACHE_STORE_OK);
    assert_int_equal(storable(200, "", "", false, true, false, 0), CACHE_STORE_OK);
    assert_int_equal(storable(200, "", "", false, false, true, 0), CACHE_STORE_OK);
    assert_int_equal(storable(200, "", "", false, false, false, 0), CACHE_STORE_NO_FRESHNESS);
    assert_int_equal(storable(200, "", "", false, false, false, 30), CACHE_STORE_OK);
    assert_int_equal(storable(500, "", "", false, false, true, 30), CACHE_STORE_NO_FRESHNESS);
    assert_int_equal(storable(500, "", "max-age=5", false, false, false, 0), CACHE_STORE_OK);
    assert_int_equal(storable(206, "", "max-age=60", false, false, false, 0), CACHE_STORE_STATUS);
    assert_int_equal(storable(304, "", "max-age=60", false, false, false, 0), CACHE_STORE_STATUS);
    assert_int_equal(storable(200, "", "no-store, max-age=60", false, false, false, 0),
                     CACHE_STORE_NO_STORE);
    assert_int_equal(storable(200, "no-store", "max-age=60", false, false, false, 0),
                     CACHE_STORE_NO_STORE);
    assert_int_equal(storable(200, "", "private, max-age=60", false, false, false, 0),
                     CACHE_STORE_PRIVATE);
    /* the qualified private form is storable (its fields are left out) */
    assert_int_equal(storable(200, "", "private=\"X\", max-age=60", false, false, false, 0),
                     CACHE_STORE_OK);
    /* no-cache is stored (and revalidated on use) */
    assert_int_equal(storable(200, "", "no-cache, max-age=60", false, false, false, 0),
                     CACHE_STORE_OK);
}

static void test_authorization(void **state)
{
    (void)state;
    assert_int_equal(storable(200, "", "max-age=60", true, false, false, 0), CACHE_STORE_AUTH);
    assert_int_equal(storable(200, "", "public, max-age=60", true, false, false, 0),
                     CACHE_STORE_OK);
    assert_int_equal(storable(200, "", "s-maxage=60", true, false, false, 0), CACHE_STORE_OK);
    assert_int_equal(storable(200, "", "must-revalidate, max-age=60", true, false, false, 0),
                     CACHE_STORE_OK);
}

static void test_must_understand(void **state)
{
    (void)state;
    /* must-understand with an understood status overrides no-store */
    assert_int_equal(storable(200, "", "must-understand, no-store, max-age=60", false, false,
                              false, 0), CACHE_STORE_OK);
    assert_int_equal(storable(299, "", "must-understand, no-store, max-age=60", false, false,
                              false, 0), CACHE_STORE_STATUS);
}

static enum cache_use use(const char *req, const char *resp, int64_t age, int64_t life)
{
    struct cache_control rq = cc_of(req), rs = cc_of(resp);
    return cache_rules_use(&rq, (rq.flags & CC_NO_CACHE) != 0, &rs, age, life);
}

static void test_use(void **state)
{
    (void)state;
    assert_int_equal(use("", "", 10, 60), CACHE_USE_FRESH);
    assert_int_equal(use("", "", 60, 60), CACHE_USE_REVALIDATE);   /* age == lifetime: stale */
    assert_int_equal(use("", "no-cache", 0, 60), CACHE_USE_REVALIDATE);
    assert_int_equal(use("no-cache", "", 0, 60), CACHE_USE_REVALIDATE);
    assert_int_equal(use("max-age=5", "", 10, 60), CACHE_USE_REVALIDATE);
    assert_int_equal(use("max-age=10", "", 10, 60), CACHE_USE_FRESH);
    assert_int_equal(use("max-age=0", "", 0, 60), CACHE_USE_REVALIDATE);
    assert_int_equal(use("min-fresh=55", "", 10, 60), CACHE_USE_REVALIDATE);
    assert_int_equal(use("max-stale=10", "", 65, 60), CACHE_USE_STALE);
    assert_int_equal(use("max-stale=1", "", 65, 60), CACHE_USE_REVALIDATE);
    assert_int_equal(use("max-stale", "", 6500, 60), CACHE_USE_STALE);
    assert_int_equal(use("max-stale", "must-revalidate", 65, 60), CACHE_USE_REVALIDATE);
    assert_int_equal(use("max-stale", "proxy-revalidate", 65, 60), CACHE_USE_REVALIDATE);
    assert_int_equal(use("max-stale", "s-maxage=60", 65, 60), CACHE_USE_REVALIDATE);
    assert_int_equal(use("", "stale-while-revalidate=10", 65, 60), CACHE_USE_SWR);
    assert_int_equal(use("", "stale-while-revalidate=10", 75, 60), CACHE_USE_REVALIDATE);
}

static void test_stale_if_error(void **state)
{
    (void)state;
    struct cache_control none = cc_of(""), rq = cc_of("stale-if-error=100");
    struct cache_control rs = cc_of("stale-if-error=10");
    struct cache_control mr = cc_of("must-revalidate, stale-if-error=10");
    assert_true(cache_rules_stale_on_error(&none, &rs, 65, 60));
    assert_false(cache_rules_stale_on_error(&none, &rs, 75, 60));
    assert_true(cache_rules_stale_on_error(&rq, &none, 150, 60));
    assert_false(cache_rules_stale_on_error(&none, &none, 61, 60));
    assert_false(cache_rules_stale_on_error(&none, &mr, 65, 60));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store),          cmocka_unit_test(test_authorization),
        cmocka_unit_test(test_must_understand), cmocka_unit_test(test_use),
        cmocka_unit_test(test_stale_if_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

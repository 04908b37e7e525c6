/* test_cache_control.c — Cache-Control parsing (RFC 9111 §5.2): each directive, case, quoted
 * arguments, unknown directives, duplicates, malformed and huge values, several lines,
 * qualified no-cache / private. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cache/cache_control.h"

static struct cache_control parse(const char *v)
{
    struct cache_control cc;
    cache_control_init(&cc);
    cache_control_parse(&cc, str_cstr(v));
    return cc;
}

static void test_absent(void **state)
{
    (void)state;
    struct cache_control cc = parse("");
    assert_int_equal(cc.flags, 0);
    assert_true(cc.max_age == CACHE_ABSENT && cc.s_maxage == CACHE_ABSENT);
    assert_true(cc.max_stale == CACHE_ABSENT && cc.min_fresh == CACHE_ABSENT);
}

static void test_flags_and_deltas(void **state)
{
    (void)state;
    struct cache_control cc = parse("public, max-age=60, s-maxage=30, must-revalidate, "
                                    "proxy-revalidate, no-transform, immutable, "
                                    "stale-while-revalidate=5, stale-if-error=7");
    assert_true(cc.flags & CC_PUBLIC);
    assert_true(cc.flags & CC_MUST_REVALIDATE);
    assert_true(cc.flags & CC_PROXY_REVALIDATE);
    assert_true(cc.flags & CC_NO_TRANSFORM);
    assert_true(cc.flags & CC_IMMUTABLE);
    assert_int_equal(cc.max_age, 60);
    assert_int_equal(cc.s_maxage, 30);
    assert_int_equal(cc.stale_while_revalidate, 5);
    assert_int_equal(cc.stale_if_error, 7);
    assert_false(cc.flags & CC_INVALID);
}

static void test_case_insensitive_names(void **state)
{
    (void)state;
    struct cache_control cc = parse("NO-STORE, Max-Age=5, Private");
    assert_true(cc.flags & CC_NO_STORE);
    assert_true(cc.flags & CC_PRIVATE);
    assert_int_equal(cc.max_age, 5);
}

static void test_quoted_argument(void **state)
{
    (void)state;
    struct cache_control cc = parse("max-age=\"3600\"");
    assert_int_equal(cc.max_age, 3600);
}

static void test_unknown_ignored(void **state)
{
    (void)state;
    struct cache_control cc = parse("foo, bar=\"x, y\", max-age=10, baz=1");
    assert_int_equal(cc.max_age, 10);
    assert_int_equal(cc.flags, 0);
}

static void test_duplicate_keeps_first(void **state)
{
    (void)state;
    struct cache_control cc = parse("max-age=10, max-age=99");
    assert_int_equal(cc.max_age, 10);
}

static void test_malformed_is_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"max-age=abc", "max-age=-1", "max-age=", "max-age=1.5",
                         "s-maxage=+3", "max-age=10 20", "max-age=\"12"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cache_control cc = parse(bad[i]);
        assert_true(cc.flags & CC_INVALID);
    }
    /* other directives with a malformed value are simply ignored */
    struct cache_control cc = parse("min-fresh=x, max-stale=y");
    assert_false(cc.flags & CC_INVALID);
    assert_true(cc.min_fresh == CACHE_ABSENT && cc.max_stale == CACHE_ABSENT);
}

static void test_huge_saturates(void **state)
{
    (void)state;
    struct cache_control cc = parse("max-age=99999999999999999999999");
    assert_int_equal(cc.max_age, CACHE_DELTA_MAX);
}

static void test_request_directives(void **state)
{
    (void)state;
    struct cache_control cc = parse("no-cache, max-stale, min-fresh=3, only-if-cached");
    assert_true(cc.flags & CC_NO_CACHE);
    assert_true(cc.flags & CC_MAX_STALE_ANY);
    assert_true(cc.flags & CC_ONLY_IF_CACHED);
    assert_int_equal(cc.min_fresh, 3);
    cc = parse("max-stale=20");
    assert_int_equal(cc.max_stale, 20);
    assert_false(cc.flags & CC_MAX_STALE_ANY);
}

static void test_qualified_forms(void **state)
{
    (void)state;
    struct cache_control cc = parse("no-cache=\"Set-Cookie, X-Foo\", private=\"X-Bar\", max-age=5");
    assert_false(cc.flags & CC_NO_CACHE);
    assert_false(cc.flags & CC_PRIVATE);
    assert_true(cache_control_list_has(cc.no_cache_fields, STR_LIT("set-cookie")));
    assert_true(cache_control_list_has(cc.no_cache_fields, STR_LIT("X-Foo")));
    assert_false(cache_control_list_has(cc.no_cache_fields, STR_LIT("X-Bar")));
    assert_true(cache_control_list_has(cc.private_fields, STR_LIT("x-bar")));
    assert_int_equal(cc.max_age, 5);
}

static void test_several_lines(void **state)
{
    (void)state;
    struct cache_control cc;
    cache_control_init(&cc);
    cache_control_parse(&cc, STR_LIT("public"));
    cache_control_parse(&cc, STR_LIT(" max-age=7 ,"));
    assert_true(cc.flags & CC_PUBLIC);
    assert_int_equal(cc.max_age, 7);
}

static void test_garbage_does_not_crash(void **state)
{
    (void)state;
    const char *junk[] = {",,,", "=", "==max-age=1", "\"", "max-age", "a=\"\\", " \t "};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        parse(junk[i]);
    /* max-age with no "=": malformed */
    assert_true(parse("max-age").flags & CC_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent),
        cmocka_unit_test(test_flags_and_deltas),
        cmocka_unit_test(test_case_insensitive_names),
        cmocka_unit_test(test_quoted_argument),
        cmocka_unit_test(test_unknown_ignored),
        cmocka_unit_test(test_duplicate_keeps_first),
        cmocka_unit_test(test_malformed_is_invalid),
        cmocka_unit_test(test_huge_saturates),
        cmocka_unit_test(test_request_directives),
        cmocka_unit_test(test_qualified_forms),
        cmocka_unit_test(test_several_lines),
        cmocka_unit_test(test_garbage_does_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_static_cond.c — ETag shape, HTTP dates (the three formats, invalid ones, round trips),
 * entity-tag lists, and the decisions: 304, 412 in RFC 9110 §13.2.2 order, If-Range, 206 for
 * single and coalesced ranges, 200 for ignored ranges, 416. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "modules/static/static_cond.h"

#define NOV_6_1994 INT64_C(784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */
#define NOW_2025 INT64_C(1750000000)

static void test_etag(void **state)
{
    (void)state;
    struct stat st = {.st_size = 1234};
    st.st_mtim.tv_sec = 1700000000;
    st.st_mtim.tv_nsec = 123456789;
    char out[STATIC_ETAG_MAX];
    int n = static_cond_etag(&st, STR_NULL, out);
    assert_string_equal(out, "\"17979cfe3d85cd15-4d2\"");
    assert_int_equal(n, (int)strlen(out));
    n = static_cond_etag(&st, STR_LIT("br"), out);
    assert_string_equal(out, "\"17979cfe3d85cd15-4d2-br\"");
    st.st_mtim.tv_nsec++;
    char other[STATIC_ETAG_MAX];
    static_cond_etag(&st, STR_LIT("br"), other);
    assert_string_not_equal(out, other); /* a rewrite within the same second changes the tag */
    assert_int_equal(static_cond_etag(&st, STR_LIT("123456789"), out), -1);
}

static void test_date_format(void **state)
{
    (void)state;
    char d[STATIC_DATE_LEN + 1];
    static_cond_date_format(NOV_6_1994, d);
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    static_cond_date_format(0, d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    static_cond_date_format(951782400, d);
    assert_string_equal(d, "Tue, 29 Feb 2000 00:00:00 GMT");
    static_cond_date_format(-1, d);
    assert_string_equal(d, "Wed, 31 Dec 1969 23:59:59 GMT");
    static_cond_date_format(253402300799, d);
    assert_string_equal(d, "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_int_equal(strlen(d), STATIC_DATE_LEN);
}

static bool parse(const char *s, int64_t *t)
{
    return static_cond_date_parse(str_cstr(s), NOW_2025, t);
}

static void test_date_parse(void **state)
{
    (void)state;
    int64_t t;
    assert_true(parse("Sun, 06 Nov 1994 08:49:37 GMT", &t));
    assert_int_equal(t, NOV_6_1994);
    assert_true(parse("Sunday, 06-Nov-94 08:49:37 GMT", &t));
    assert_int_equal(t, NOV_6_1994);
    assert_true(parse("Sun Nov  6 08:49:37 1994", &t));
    assert_int_equal(t, NOV_6_1994);
    assert_true(parse("Sun Nov 16 08:49:37 1994", &t));
    assert_int_equal(t, NOV_6_1994 + 10 * 86400);
    assert_true(parse("  Sun, 06 Nov 1994 08:49:37 GMT\t", &t));
    assert_int_equal(t, NOV_6_1994);
    /* the weekday is a name, not checked against the date */
    assert_true(parse("Mon, 06 Nov 1994 08:49:37 GMT", &t));
    assert_true(parse("Tue, 29 Feb 2000 00:00:00 GMT", &t));
    assert_int_equal(t, 951782400);
    assert_true(parse("Sat, 31 Dec 2016 23:59:60 GMT", &t)); /* leap second */
    /* RFC 850 years: more than 50 years ahead means the previous century */
    assert_true(parse("Thursday, 01-Jan-70 00:00:00 GMT", &t));
    assert_int_equal(t, INT64_C(3155760000)); /* 2070 */
    assert_true(parse("Friday, 01-Jan-80 00:00:00 GMT", &t));
    assert_int_equal(t, INT64_C(315532800)); /* 1980 */
    assert_true(static_cond_date_parse(STR_LIT("Friday, 01-Jan-99 00:00:00 GMT"),
                                       INT64_C(4070908800) /* 2099 */, &t));
    assert_int_equal(t, INT64_C(4070908800)); /* 2099 */
    assert_true(static_cond_date_parse(STR_LIT("Friday, 01-Jan-00 00:00:00 GMT"),
                                       INT64_C(4070908800), &t));
    assert_int_equal(t, INT64_C(4102444800)); /* 2100, not 2000 */

    static const char *const bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 GMT x",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 GMT",
        "1994-11-06T08:49:37Z",
        "784111777",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse(bad[i], &t))
            fail_msg("accepted \"%s\"", bad[i]);
    assert_false(static_cond_date_parse(STR_NULL, NOW_2025, &t));
}

static void test_date_round_trip(void **state)
{
    (void)state;
    char d[STATIC_DATE_LEN + 1];
    int64_t t;
    for (int64_t v = -86400 * 400; v < INT64_C(4102444800); v += 86400 * 37 + 3671) {
        static_cond_date_format(v, d);
        assert_true(static_cond_date_parse(str_cstr(d), NOW_2025, &t));
        assert_int_equal(t, v);
    }
}

static void test_etag_match(void **state)
{
    (void)state;
    struct str tag = STR_LIT("\"abc\"");
    assert_true(static_cond_etag_match(STR_LIT("\"abc\""), tag, false));
    assert_true(static_cond_etag_match(STR_LIT("\"x\", \"abc\""), tag, false));
    assert_true(static_cond_etag_match(STR_LIT(" \"x\" ,,\t\"abc\" "), tag, false));
    assert_true(static_cond_etag_match(STR_LIT("*"), tag, false));
    assert_true(static_cond_etag_match(STR_LIT("W/\"abc\""), tag, true));
    assert_false(static_cond_etag_match(STR_LIT("W/\"abc\""), tag, false));
    assert_false(static_cond_etag_match(STR_LIT("\"abcd\""), tag, true));
    assert_false(static_cond_etag_match(STR_LIT("abc"), tag, true));     /* unquoted */
    assert_false(static_cond_etag_match(STR_LIT("\"abc\" x"), tag, true)); /* junk voids all */
    assert_false(static_cond_etag_match(STR_LIT("\"abc\", *"), tag, true));
    assert_false(static_cond_etag_match(STR_LIT("\"abc"), tag, true));
    assert_false(static_cond_etag_match(STR_LIT(""), tag, true));
    /* a weak representation tag never matches strongly */
    assert_false(static_cond_etag_match(STR_LIT("W/\"abc\""), STR_LIT("W/\"abc\""), false));
    assert_true(static_cond_etag_match(STR_LIT("\"abc\""), STR_LIT("W/\"abc\""), true));
}

/* ---- decisions ---- */

static const struct static_cond_rep rep = {
    .etag = STR_LIT("\"e1\""), .last_modified = NOV_6_1994, .size = 1000};

static struct static_cond_decision eval(struct static_cond_req r)
{
    struct static_cond_decision d;
    r.now = NOW_2025;
    static_cond_evaluate(&r, &rep, &d);
    return d;
}

#define LM "Sun, 06 Nov 1994 08:49:37 GMT"
#define BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define AFTER "Sun, 06 Nov 1994 08:49:38 GMT"

static void test_not_modified(void **state)
{
    (void)state;
    struct static_cond_decision d = eval((struct static_cond_req){.method = STATIC_GET});
    assert_int_equal(d.status, 200);
    assert_int_equal(d.offset, 0);
    assert_int_equal(d.length, 1000);

    assert_int_equal(eval((struct static_cond_req){.if_none_match = STR_LIT("\"e1\"")}).status,
                     304);
    assert_int_equal(eval((struct static_cond_req){.method = STATIC_HEAD,
                                                   .if_none_match = STR_LIT("W/\"e1\"")})
                         .status,
                     304);
    assert_int_equal(eval((struct static_cond_req){.method = STATIC_OTHER,
                                                   .if_none_match = STR_LIT("*")})
                         .status,
                     412);
    /* If-Modified-Since: <= means not modified; ignored when If-None-Match is there */
    assert_int_equal(eval((struct static_cond_req){.if_modified_since = STR_LIT(LM)}).status, 304);
    assert_int_equal(eval((struct static_cond_req){.if_modified_since = STR_LIT(AFTER)}).status,
                     304);
    assert_int_equal(eval((struct static_cond_req){.if_modified_since = STR_LIT(BEFORE)}).status,
                     200);
    assert_int_equal(eval((struct static_cond_req){.if_modified_since = STR_LIT("yesterday")})
                         .status,
                     200);
    assert_int_equal(eval((struct static_cond_req){.if_none_match = STR_LIT("\"old\""),
                                                   .if_modified_since = STR_LIT(AFTER)})
                         .status,
                     200);
    assert_int_equal(eval((struct static_cond_req){.method = STATIC_OTHER,
                                                   .if_modified_since = STR_LIT(AFTER)})
                         .status,
                     200);
}

static void test_preconditions(void **state)
{
    (void)state;
    assert_int_equal(eval((struct static_cond_req){.if_match = STR_LIT("\"other\"")}).status, 412);
    assert_int_equal(eval((struct static_cond_req){.if_match = STR_LIT("W/\"e1\"")}).status, 412);
    assert_int_equal(eval((struct static_cond_req){.if_match = STR_LIT("\"e1\"")}).status, 200);
    assert_int_equal(eval((struct static_cond_req){.if_match = STR_LIT("*")}).status, 200);
    assert_int_equal(eval((struct static_cond_req){.if_unmodified_since = STR_LIT(BEFORE)}).status,
                     412);
    assert_int_equal(eval((struct static_cond_req){.if_unmodified_since = STR_LIT(LM)}).status,
                     200);
    assert_int_equal(eval((struct static_cond_req){.if_unmodified_since = STR_LIT("junk")}).status,
                     200);
    /* If-Unmodified-Since is not looked at when If-Match is there */
    assert_int_equal(eval((struct static_cond_req){.if_match = STR_LIT("\"e1\""),
                                                   .if_unmodified_since = STR_LIT(BEFORE)})
                         .status,
                     200);
    /* step 1 before step 3: a failed If-Match beats a matching If-None-Match */
    assert_int_equal(eval((struct static_cond_req){.if_match = STR_LIT("\"x\""),
                                                   .if_none_match = STR_LIT("\"e1\"")})
                         .status,
                     412);
    /* 304 before ranges */
    assert_int_equal(eval((struct static_cond_req){.if_none_match = STR_LIT("\"e1\""),
                                                   .range = STR_LIT("bytes=0-1")})
                         .status,
                     304);
}

static void expect_range(const char *range, int status, uint64_t off, uint64_t len)
{
    struct static_cond_decision d = eval((struct static_cond_req){.range = str_cstr(range)});
    if (d.status != status || d.offset != off || d.length != len)
        fail_msg("%s: %d %lu+%lu, want %d %lu+%lu", range, d.status, (unsigned long)d.offset,
                 (unsigned long)d.length, status, (unsigned long)off, (unsigned long)len);
}

static void test_ranges(void **state)
{
    (void)state;
    expect_range("bytes=0-99", 206, 0, 100);
    expect_range("bytes=100-", 206, 100, 900);
    expect_range("bytes=-10", 206, 990, 10);
    expect_range("bytes=-2000", 206, 0, 1000);
    expect_range("bytes=990-5000", 206, 990, 10);
    expect_range("bytes=0-99999999999999999999999999", 206, 0, 1000);
    expect_range("BYTES=5-5", 206, 5, 1);
    expect_range("bytes=0-9,10-19", 206, 0, 20);       /* adjacent: one span */
    expect_range("bytes=10-19, 0-15", 206, 0, 20);     /* overlapping */
    expect_range("bytes=2000-3000, 0-5", 206, 0, 6);   /* the unsatisfiable one dropped */
    expect_range("bytes=0-0,-1", 200, 0, 1000);        /* two spans: whole file */
    expect_range("bytes=0-9,20-29", 200, 0, 1000);
    expect_range("bytes=1000-", 416, 0, 0);
    expect_range("bytes=1000-2000, 5000-", 416, 0, 0);
    expect_range("bytes=-0", 416, 0, 0);
    expect_range("bytes=5-1", 200, 0, 1000);  /* invalid: ignored */
    expect_range("bytes=abc", 200, 0, 1000);
    expect_range("bytes=", 200, 0, 1000);
    expect_range("bytes=,", 200, 0, 1000);
    expect_range("bytes=-", 200, 0, 1000);
    expect_range("bytes=1-2-3", 200, 0, 1000);
    expect_range("bytes=0-1;x", 200, 0, 1000);
    expect_range("items=0-1", 200, 0, 1000);
    expect_range("bytes 0-1", 200, 0, 1000);
    expect_range("bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,"
                 "15-15",
                 206, 0, 16);
    expect_range("bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,"
                 "15-15,16-16",
                 200, 0, 1000); /* more than 16 specs */

    /* HEAD and other methods ignore Range; so does an empty file */
    assert_int_equal(
        eval((struct static_cond_req){.method = STATIC_HEAD, .range = STR_LIT("bytes=0-1")})
            .status,
        200);
    struct static_cond_rep empty = {.etag = STR_LIT("\"e\""), .size = 0};
    struct static_cond_req r = {.range = STR_LIT("bytes=0-")};
    struct static_cond_decision d;
    static_cond_evaluate(&r, &empty, &d);
    assert_int_equal(d.status, 200);
    assert_int_equal(d.length, 0);
}

static void test_if_range(void **state)
{
    (void)state;
    struct static_cond_req r = {.range = STR_LIT("bytes=0-9"), .if_range = STR_LIT("\"e1\"")};
    assert_int_equal(eval(r).status, 206);
    r.if_range = STR_LIT("\"old\"");
    assert_int_equal(eval(r).status, 200);
    r.if_range = STR_LIT("W/\"e1\"");
    assert_int_equal(eval(r).status, 200);
    r.if_range = STR_LIT(LM);
    assert_int_equal(eval(r).status, 206);
    r.if_range = STR_LIT(AFTER);
    assert_int_equal(eval(r).status, 200);
    r.if_range = STR_LIT("nonsense");
    assert_int_equal(eval(r).status, 200);
}

static void test_content_range(void **state)
{
    (void)state;
    char out[64];
    struct static_cond_decision d = {.status = 206, .offset = 990, .length = 10};
    static_cond_content_range(&d, 1000, out, sizeof(out));
    assert_string_equal(out, "bytes 990-999/1000");
    d = (struct static_cond_decision){.status = 416};
    static_cond_content_range(&d, 1000, out, sizeof(out));
    assert_string_equal(out, "bytes */1000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag),         cmocka_unit_test(test_date_format),
        cmocka_unit_test(test_date_parse),   cmocka_unit_test(test_date_round_trip),
        cmocka_unit_test(test_etag_match),   cmocka_unit_test(test_not_modified),
        cmocka_unit_test(test_preconditions), cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_if_range),     cmocka_unit_test(test_content_range),
    };
    return cmocka_run_group_tests_name("static_cond", tests, NULL, NULL);
}

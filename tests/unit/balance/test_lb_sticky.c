/* test_lb_sticky.c — sticky tokens (format, stability, distinctness, lookup) and Cookie header
 * parsing edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "balance/sticky.h"
#include "lb_fixture.h"

/* lb_sticky_token("10.0.0.1:8080"), pinned the day the hash was written. */
#define PINNED_TOKEN "71e02eb9ec1bcb88"

static void test_token_format(void **state)
{
    (void)state;
    char t[LB_STICKY_TOKEN_LEN + 1];
    lb_sticky_token(STR_LIT("10.0.0.1:8080"), t);
    assert_int_equal(strlen(t), 16);
    for (int i = 0; i < 16; i++)
        assert_true((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f'));
    assert_null(strstr(t, "10.0.0.1"));
    lb_sticky_token(STR_NULL, t); /* an empty id still gives a well-formed token */
    assert_int_equal(strlen(t), 16);
}

/* Stable across restarts, workers and hosts: the value is pinned here. If this test fails the
 * hash changed, and every client's sticky cookie would point nowhere after an upgrade. */
static void test_token_stable(void **state)
{
    (void)state;
    char a[LB_STICKY_TOKEN_LEN + 1], b[LB_STICKY_TOKEN_LEN + 1];
    lb_sticky_token(STR_LIT("10.0.0.1:8080"), a);
    lb_sticky_token(str_from("10.0.0.1:8080-and-more", 13), b);
    assert_string_equal(a, b);
    assert_string_equal(a, PINNED_TOKEN);
}

static void test_tokens_distinct(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char tok[N][LB_STICKY_TOKEN_LEN + 1];
    char id[32];
    for (int i = 0; i < N; i++) {
        int len = snprintf(id, sizeof(id), "10.%d.%d.1:%d", i / 256, i % 256, 8000 + i % 3);
        lb_sticky_token(str_from(id, (size_t)len), tok[i]);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            assert_string_not_equal(tok[i], tok[j]);
    /* Ids differing only at the end, or by a port digit. */
    char x[LB_STICKY_TOKEN_LEN + 1], y[LB_STICKY_TOKEN_LEN + 1];
    lb_sticky_token(STR_LIT("backend:8080"), x);
    lb_sticky_token(STR_LIT("backend:8081"), y);
    assert_string_not_equal(x, y);
}

static void test_find(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 6, NULL);
    char t[LB_STICKY_TOKEN_LEN + 1];
    for (uint32_t i = 0; i < f.n; i++) {
        lb_sticky_token(f.srv[i].id, t);
        assert_int_equal(lb_sticky_find(f.ptr, f.n, str_cstr(t)), (int)i);
    }
    fx_up(&f, 4, false); /* health is the caller's business */
    lb_sticky_token(f.srv[4].id, t);
    assert_int_equal(lb_sticky_find(f.ptr, f.n, str_cstr(t)), 4);

    assert_int_equal(lb_sticky_find(f.ptr, f.n, STR_LIT("0123456789abcdef")), -1);
    assert_int_equal(lb_sticky_find(f.ptr, f.n, str_from(t, 15)), -1); /* truncated */
    assert_int_equal(lb_sticky_find(f.ptr, f.n, STR_NULL), -1);
    char upper[LB_STICKY_TOKEN_LEN + 1];
    for (int i = 0; i <= LB_STICKY_TOKEN_LEN; i++)
        upper[i] = (t[i] >= 'a' && t[i] <= 'f') ? (char)(t[i] - 'a' + 'A') : t[i];
    if (strcmp(upper, t) != 0) /* tokens are lowercase: another spelling is another token */
        assert_int_equal(lb_sticky_find(f.ptr, f.n, str_cstr(upper)), -1);
    assert_int_equal(lb_sticky_find(f.ptr, f.n, STR_LIT("0123456789abcdeg")), -1);
    t[3] = t[3] == 'a' ? 'b' : 'a';
    assert_int_equal(lb_sticky_find(f.ptr, f.n, str_cstr(t)), -1);
    assert_int_equal(lb_sticky_find(f.ptr, 0, STR_LIT("0123456789abcdef")), -1);
}

static void expect_cookie(const char *header, const char *name, const char *want)
{
    struct str v = lb_cookie_value(str_cstr(header), str_cstr(name));
    if (!want) {
        assert_int_equal(v.len, 0);
        return;
    }
    if (v.len != strlen(want) || (v.len && memcmp(v.ptr, want, v.len) != 0))
        fail_msg("cookie %s in [%s]: got [%.*s], want [%s]", name, header, (int)v.len,
                 v.ptr ? v.ptr : "", want);
    if (v.len) /* a slice of the header, not a copy */
        assert_true(v.ptr >= header && v.ptr + v.len <= header + strlen(header));
}

static void test_cookie_basic(void **state)
{
    (void)state;
    expect_cookie("a=1; b=2", "a", "1");
    expect_cookie("a=1; b=2", "b", "2");
    expect_cookie("a=1; b=2", "c", NULL);
    expect_cookie("weir_srv=0123456789abcdef", "weir_srv", "0123456789abcdef");
    expect_cookie("", "a", NULL);
    expect_cookie("a=1", "", NULL);
}

static void test_cookie_whitespace(void **state)
{
    (void)state;
    expect_cookie("a=1;b=2", "b", "2");               /* no space after ';' */
    expect_cookie("  a = 1 ;\t b\t=\t2  ", "a", "1"); /* OWS everywhere */
    expect_cookie("  a = 1 ;\t b\t=\t2  ", "b", "2");
    expect_cookie("a=1;;  ; b=2", "b", "2"); /* empty pairs */
    expect_cookie("a=1; b=2;", "b", "2");    /* trailing ';' */
    expect_cookie("a=x y", "a", "x y");      /* inner space kept (lenient) */
}

static void test_cookie_name_matching(void **state)
{
    (void)state;
    expect_cookie("ab=1; a=2", "a", "2");  /* a prefix of another name */
    expect_cookie("ba=1; a=2", "a", "2");  /* a suffix of another name */
    expect_cookie("x=a=1; a=2", "a", "2"); /* the name inside a value */
    expect_cookie("x=a=1", "x", "a=1");    /* '=' inside a value is the value's */
    expect_cookie("A=1; a=2", "a", "2");   /* case-sensitive */
    expect_cookie("a=1; a=2", "a", "1");   /* first wins */
    expect_cookie("flag; a=2", "a", "2");  /* a pair without '=' is skipped */
    expect_cookie("a; b=2", "a", NULL);
}

static void test_cookie_values(void **state)
{
    (void)state;
    expect_cookie("a=; b=2", "a", ""); /* empty value */
    expect_cookie("a=\"quoted\"; b=2", "a", "quoted");
    expect_cookie("a=\"\"", "a", "");
    expect_cookie("a=\"", "a", "\""); /* a lone quote is not a quoted value */
    expect_cookie("a=1", "a", "1");
    /* A slice that is not NUL-terminated: the parser stays inside it. */
    static const char buf[] = "a=1; b=22222";
    struct str v = lb_cookie_value(str_from(buf, 8), STR_LIT("b"));
    assert_int_equal(v.len, 1);
    assert_memory_equal(v.ptr, "2", 1);
    v = lb_cookie_value(STR_NULL, STR_LIT("a"));
    assert_int_equal(v.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_format),         cmocka_unit_test(test_token_stable),
        cmocka_unit_test(test_tokens_distinct),      cmocka_unit_test(test_find),
        cmocka_unit_test(test_cookie_basic),         cmocka_unit_test(test_cookie_whitespace),
        cmocka_unit_test(test_cookie_name_matching), cmocka_unit_test(test_cookie_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

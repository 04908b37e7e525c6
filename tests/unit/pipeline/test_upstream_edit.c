/* test_upstream_edit.c — the upstream request edits: a query parameter taken out of the target
 * (first, middle, last, alone, bare, repeated, a longer name left alone, absolute form), and
 * edits made one after the other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/upstream_edit.h"

static struct exchange x;
static struct h1_request req;

static const char *drop(const char *target, const char *name)
{
    static char out[256];
    memset(&x, 0, sizeof(x));
    arena_init(&x.arena, x.arena_inline, sizeof(x.arena_inline));
    req = (struct h1_request){.target = str_cstr(target)};
    x.req = &req;
    assert_int_equal(upstream_edit_drop_query(&x, str_cstr(name)), 0);
    struct str t = x.upstream_target.ptr ? x.upstream_target : req.target;
    snprintf(out, sizeof(out), "%.*s%s", (int)t.len, t.ptr, x.upstream_target.ptr ? "" : " (kept)");
    arena_reset(&x.arena);
    return out;
}

static void drops_query_parameters(void **state)
{
    (void)state;
    assert_string_equal(drop("/a?token=t&x=1", "token"), "/a?x=1");
    assert_string_equal(drop("/a?x=1&token=t&y=2", "token"), "/a?x=1&y=2");
    assert_string_equal(drop("/a?x=1&token=t", "token"), "/a?x=1");
    assert_string_equal(drop("/a?token=t", "token"), "/a");
    assert_string_equal(drop("/a?token&token=2&x", "token"), "/a?x");
    assert_string_equal(drop("/a?tokens=1&x=token", "token"), "/a?tokens=1&x=token (kept)");
    assert_string_equal(drop("/a", "token"), "/a (kept)");
    assert_string_equal(drop("/a?", "token"), "/a? (kept)");
    assert_string_equal(drop("http://h/a?x=&&token=t", "token"), "http://h/a?x=");
}

static void edits_build_on_each_other(void **state)
{
    (void)state;
    memset(&x, 0, sizeof(x));
    arena_init(&x.arena, x.arena_inline, sizeof(x.arena_inline));
    req = (struct h1_request){.target = STR_LIT("/p?a=1&key=k&token=t&b=2")};
    x.req = &req;
    assert_int_equal(upstream_edit_drop_query(&x, STR_LIT("token")), 0);
    assert_int_equal(upstream_edit_drop_query(&x, STR_LIT("key")), 0);
    assert_true(str_eq(x.upstream_target, STR_LIT("/p?a=1&b=2")));
    arena_reset(&x.arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(drops_query_parameters),
        cmocka_unit_test(edits_build_on_each_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

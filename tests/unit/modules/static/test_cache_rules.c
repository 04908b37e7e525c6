/* test_cache_rules.c — globs (`*`, `**`, `**` + '/', `?`, classes, escapes, basename-only),
 * compile errors, a pattern built to make backtracking matchers slow, the fingerprint test, and
 * first-match-wins rule lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "modules/static/cache_rules.h"

static bool m(const char *pattern, const char *path)
{
    struct cache_glob g;
    char err[128];
    if (cache_glob_compile(pattern, &g, err, sizeof(err)) != 0)
        fail_msg("%s: %s", pattern, err);
    return cache_glob_match(&g, str_cstr(path));
}

#define YES(p, s) assert_true(m(p, s))
#define NO(p, s) assert_false(m(p, s))

static void test_glob_basics(void **state)
{
    (void)state;
    YES("*.html", "/a/b/index.html");
    YES("*.html", "/x.html");
    NO("*.html", "/a.html/x");
    NO("*.html", "/a/index.htm");
    YES("index.html", "/deep/down/index.html");
    YES("/a/*/c", "/a/b/c");
    NO("/a/*/c", "/a/b/d/c");
    YES("/a/*", "/a/");
    YES("/img/??.png", "/img/ab.png");
    NO("/img/??.png", "/img/a.png");
    NO("/a?b", "/a/b");
    YES("/exact", "/exact");
    NO("/exact", "/exact2");
    NO("/exact", "/exac");
}

static void test_glob_doublestar(void **state)
{
    (void)state;
    YES("/assets/**", "/assets/a/b/c.js");
    YES("/assets/**", "/assets/x");
    YES("/assets/**", "/assets/");
    NO("/assets/**", "/assetsx/y");
    NO("/assets/**", "/other/assets/x");
    YES("/**/*.js", "/a.js");
    YES("/**/*.js", "/a/b/c.js");
    NO("/**/*.js", "/a/b/c.jsx");
    YES("/a/**/b", "/a/b");
    YES("/a/**/b", "/a/x/y/b");
    NO("/a/**/b", "/a/xb");
    NO("/a/**/b", "/a/x/yb");
    YES("**/x", "/x");
    YES("/**", "/anything/at/all");
    NO("/a**/b", "/axb"); /* '**' that consumed bytes must still meet the '/' */
    YES("/a**/b", "/axy/b");
}

static void test_glob_classes(void **state)
{
    (void)state;
    YES("*.[0-9a-f][0-9a-f].js", "/a.3f.js");
    NO("*.[0-9a-f][0-9a-f].js", "/a.3g.js");
    YES("[!.]*", "/visible");
    NO("[!.]*", "/.hidden");
    YES("[^.]*", "/visible");
    YES("/a[]]b", "/a]b");
    YES("/a[x-]b", "/a-b");
    NO("/a[!x]b", "/a/b"); /* a class never matches '/' */
    YES("/a\\*b", "/a*b");
    NO("/a\\*b", "/axb");
    YES("/a\\?", "/a?");
}

static void test_glob_errors(void **state)
{
    (void)state;
    struct cache_glob g;
    char err[128];
    assert_int_equal(cache_glob_compile("", &g, err, sizeof(err)), -1);
    assert_int_equal(cache_glob_compile("/a[bc", &g, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unclosed"));
    char longp[100];
    memset(longp, 'a', 64);
    longp[64] = '\0';
    assert_int_equal(cache_glob_compile(longp, &g, err, sizeof(err)), -1);
    longp[63] = '\0';
    assert_int_equal(cache_glob_compile(longp, &g, err, sizeof(err)), 0);
    assert_int_equal(cache_glob_compile("[a][b][c][d][e][f][g][h][i]", &g, err, sizeof(err)), -1);
    assert_int_equal(cache_glob_compile("[a][b][c][d][e][f][g][h]", &g, err, sizeof(err)), 0);
}

static void test_glob_no_blowup(void **state)
{
    (void)state;
    /* exponential for a backtracking matcher; linear here */
    static char path[4002];
    path[0] = '/';
    memset(path + 1, 'a', 4000);
    path[4001] = '\0';
    NO("/**a**a**a**a**a**a**a**a**b", path);
    YES("/**a**a**a**a**a**a**a**a**", path);
    NO("*a*a*a*a*a*a*a*a*a*b", path);
}

static void test_fingerprint(void **state)
{
    (void)state;
    assert_true(cache_rules_fingerprinted(STR_LIT("/app.3f9a2b1c.js")));
    assert_true(cache_rules_fingerprinted(STR_LIT("/static/logo-9f86d081884c7d65.png")));
    assert_true(cache_rules_fingerprinted(STR_LIT("/main.3F9A2B1C.chunk.css")));
    assert_false(cache_rules_fingerprinted(STR_LIT("/app.3f9a2b1.js")));    /* 7 digits */
    assert_false(cache_rules_fingerprinted(STR_LIT("/3f9a2b1c4d.js")));     /* not after . or - */
    assert_false(cache_rules_fingerprinted(STR_LIT("/app.3f9a2b1c")));      /* no '.' after */
    assert_false(cache_rules_fingerprinted(STR_LIT("/app.3f9a2b1z.js")));
    assert_false(cache_rules_fingerprinted(STR_LIT("/d.3f9a2b1c44/x.js"))); /* a directory */
    assert_false(cache_rules_fingerprinted(STR_LIT("")));
}

static void test_rules(void **state)
{
    (void)state;
    struct cache_glob html, assets;
    char err[128];
    assert_int_equal(cache_glob_compile("*.html", &html, err, sizeof(err)), 0);
    assert_int_equal(cache_glob_compile("/assets/**", &assets, err, sizeof(err)), 0);
    static const char *const jscss[] = {"js", "css"};
    const struct cache_rule rules[] = {
        {.glob = &html, .cache_control = "no-cache"},
        {.ext = jscss, .next = 2, .fingerprinted = true,
         .cache_control = "public, max-age=31536000, immutable"},
        {.glob = &assets, .ext = jscss, .next = 2, .cache_control = "public, max-age=86400"},
        {.ext = jscss, .next = 2, .cache_control = "max-age=60"},
    };
    size_t n = sizeof(rules) / sizeof(rules[0]);
    assert_string_equal(cache_rules_match(rules, n, STR_LIT("/index.html")), "no-cache");
    assert_string_equal(cache_rules_match(rules, n, STR_LIT("/app.3f9a2b1c.js")),
                        "public, max-age=31536000, immutable");
    assert_string_equal(cache_rules_match(rules, n, STR_LIT("/assets/x.3f9a2b1c.CSS")),
                        "public, max-age=31536000, immutable"); /* first match wins */
    assert_string_equal(cache_rules_match(rules, n, STR_LIT("/assets/app.js")),
                        "public, max-age=86400");
    assert_string_equal(cache_rules_match(rules, n, STR_LIT("/app.js")), "max-age=60");
    assert_null(cache_rules_match(rules, n, STR_LIT("/assets/logo.png")));
    assert_null(cache_rules_match(rules, n, STR_LIT("/js")));
    assert_null(cache_rules_match(rules, 0, STR_LIT("/index.html")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_basics),  cmocka_unit_test(test_glob_doublestar),
        cmocka_unit_test(test_glob_classes), cmocka_unit_test(test_glob_errors),
        cmocka_unit_test(test_glob_no_blowup), cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests_name("cache_rules", tests, NULL, NULL);
}

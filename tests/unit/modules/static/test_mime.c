/* test_mime.c — mime tables: parsing a mime.types file (comments, junk lines, duplicates: the
 * first wins), case-insensitive and multi-dot lookups, the charset list, overrides, the default
 * type, a missing file, and Debian's real /etc/mime.types when it is installed. */
#include "static_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "modules/static/mime.h"

static char tmp[4096], types[4096];

static int setup(void **state)
{
    (void)state;
    fx_tmp_new(tmp, sizeof(tmp));
    fx_write(tmp, "mime.types",
             "# a comment line\n"
             "\n"
             "text/html\t\t\thtml htm\n"
             "application/javascript  js mjs   # trailing comment\n"
             "text/x-dup dup\n"
             "application/x-dup dup\n"
             "application/sarif+json sarif.json sarif\n"
             "application/json json\n"
             "notatype foo\n"
             "image/PNG PNG\n"
             "text/plain\n"
             "application/x-long " "abcdefghijklmnopqrstuvwxyz0123456789\n"
             "font/woff2 woff2");
    fx_path(types, sizeof(types), tmp, "mime.types");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_tmp_remove(tmp);
    return 0;
}

static void expect(const struct mime_table *t, const char *name, const char *type)
{
    struct str got = mime_table_lookup(t, str_cstr(name));
    if (!str_eq(got, str_cstr(type)))
        fail_msg("%s: got \"%.*s\", want \"%s\"", name, (int)got.len, got.ptr, type);
}

static void test_file(void **state)
{
    (void)state;
    char err[256];
    struct mime_config cfg = {.types_path = types};
    struct mime_table *t = mime_table_new(&cfg, err, sizeof(err));
    assert_non_null(t);
    expect(t, "index.html", "text/html; charset=utf-8");
    expect(t, "/a/b/INDEX.HTM", "text/html; charset=utf-8");
    expect(t, "app.min.js", "application/javascript; charset=utf-8");
    expect(t, "x.dup", "text/x-dup; charset=utf-8"); /* first mapping wins */
    expect(t, "report.sarif.json", "application/sarif+json");
    expect(t, "report.json", "application/json; charset=utf-8");
    expect(t, "a.sarif", "application/sarif+json");
    expect(t, "logo.png", "image/PNG");
    expect(t, "x.foo", "application/octet-stream");  /* "notatype" line skipped */
    expect(t, "x.abcdefghijklmnopqrstuvwxyz0123456789", "application/octet-stream"); /* > 32 */
    expect(t, "font.woff2", "font/woff2"); /* last line without a newline */
    expect(t, ".htaccess", "application/octet-stream");
    expect(t, "Makefile", "application/octet-stream");
    expect(t, "dir.html/README", "application/octet-stream");
    expect(t, "trailing.", "application/octet-stream");
    expect(t, "", "application/octet-stream");
    assert_int_equal(mime_table_count(t), 10);
    mime_table_free(t);
}

static void test_overrides_and_charset(void **state)
{
    (void)state;
    char err[256];
    static const struct mime_override ov[] = {
        {"js", "text/javascript"}, {".webmanifest", "application/manifest+json"},
        {"x", "text/first"},       {"X", "text/second"},
    };
    static const char *const cs[] = {"application/manifest+json"};
    struct mime_config cfg = {.types_path = types, .overrides = ov, .noverrides = 4,
                              .charset_types = cs, .ncharset = 1,
                              .default_type = "text/plain"};
    struct mime_table *t = mime_table_new(&cfg, err, sizeof(err));
    assert_non_null(t);
    expect(t, "a.js", "text/javascript");
    expect(t, "a.mjs", "application/javascript");
    expect(t, "site.webmanifest", "application/manifest+json; charset=utf-8");
    expect(t, "a.x", "text/second"); /* a later override wins */
    expect(t, "a.html", "text/html");
    expect(t, "unknown.bin", "text/plain");
    mime_table_free(t);
}

static void test_no_file(void **state)
{
    (void)state;
    char err[256];
    struct mime_config missing = {.types_path = "/nonexistent/mime.types"};
    assert_null(mime_table_new(&missing, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/mime.types"));

    static const struct mime_override ov[] = {{"html", "text/html"}};
    struct mime_config none = {.types_path = "", .overrides = ov, .noverrides = 1};
    struct mime_table *t = mime_table_new(&none, err, sizeof(err));
    assert_non_null(t);
    expect(t, "a.html", "text/html; charset=utf-8");
    expect(t, "a.css", "application/octet-stream");
    assert_int_equal(mime_table_count(t), 1);
    mime_table_free(t);
}

static void test_debian(void **state)
{
    (void)state;
    if (access(MIME_DEFAULT_TYPES_PATH, R_OK) != 0)
        skip();
    char err[256];
    struct mime_config cfg = {0};
    struct mime_table *t = mime_table_new(&cfg, err, sizeof(err));
    assert_non_null(t);
    assert_true(mime_table_count(t) > 1000);
    expect(t, "a.css", "text/css; charset=utf-8");
    expect(t, "a.html", "text/html; charset=utf-8");
    expect(t, "a.json", "application/json; charset=utf-8");
    expect(t, "a.svg", "image/svg+xml; charset=utf-8");
    expect(t, "a.woff2", "font/woff2");
    expect(t, "a.wasm", "application/wasm");
    expect(t, "a.png", "image/png");
    struct str js = mime_table_lookup(t, STR_LIT("a.js"));
    assert_true(str_has_suffix_nocase(js, STR_LIT("javascript; charset=utf-8")));
    mime_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_overrides_and_charset),
        cmocka_unit_test(test_no_file),
        cmocka_unit_test(test_debian),
    };
    return cmocka_run_group_tests_name("mime", tests, setup, teardown);
}

/* test_static_path.c — static_path: normalisation (traversal attempts, encodings, hidden files,
 * length limits) and resolution against a real temporary tree (symlinks in and out of the root,
 * a FIFO, index files, the slash redirect, try_files, the no-openat2 walk). */
#include "static_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "modules/static/static_path.h"

static const struct static_path_opts plain = {0};

static int norm(const char *target, struct static_norm *out)
{
    return static_path_normalize(str_cstr(target), true, &plain, out);
}

static void expect_path(const char *target, const char *path, bool dir)
{
    struct static_norm n;
    int rc = norm(target, &n);
    if (rc != 0)
        fail_msg("%s: %d", target, rc);
    assert_string_equal(n.path, path);
    assert_int_equal(n.len, strlen(path));
    if (n.dir != dir)
        fail_msg("%s: dir %d", target, n.dir);
}

static void expect_rc(const char *target, int rc)
{
    struct static_norm n;
    int got = norm(target, &n);
    if (got != rc)
        fail_msg("%s: got %d, want %d", target, got, rc);
}

static void test_normalize_plain(void **state)
{
    (void)state;
    expect_path("/", "", true);
    expect_path("/a/b", "a/b", false);
    expect_path("/a//b///c", "a/b/c", false);
    expect_path("/./a/../b", "b", false);
    expect_path("/a/b/..", "a", true);
    expect_path("/a/.", "a", true);
    expect_path("/a/b/", "a/b", true);
    expect_path("//evil.example", "evil.example", false);
    expect_path("/a%20b", "a b", false);
    expect_path("/%C3%A9t%c3%a9", "\xc3\xa9t\xc3\xa9", false);
    expect_path("/a%252e%252e/x", "a%2e%2e/x", false); /* decoded once only */
    expect_path("/a/%2e%2e/b", "b", false);           /* an encoded dot-segment is one */
    expect_path("/a/%2E/b", "a/b", false);
}

static void test_normalize_query(void **state)
{
    (void)state;
    struct static_norm n;
    assert_int_equal(norm("/a/b?x=1&y=%2F#frag", &n), 0);
    assert_string_equal(n.path, "a/b");
    assert_int_equal(n.query.len, 9);
    assert_memory_equal(n.query.ptr, "x=1&y=%2F", 9);
    assert_int_equal(norm("/a?../../etc/passwd", &n), 0);
    assert_string_equal(n.path, "a");
    assert_int_equal(norm("/a#/../../x", &n), 0);
    assert_string_equal(n.path, "a");
    assert_null(n.query.ptr);
    assert_int_equal(norm("/d?", &n), 0);
    assert_non_null(n.query.ptr);
    assert_int_equal(n.query.len, 0);
}

static void test_normalize_traversal(void **state)
{
    (void)state;
    expect_rc("/../etc/passwd", STATIC_PATH_BAD);
    expect_rc("/..", STATIC_PATH_BAD);
    expect_rc("/a/../../etc/passwd", STATIC_PATH_BAD);
    expect_rc("/%2e%2e/etc/passwd", STATIC_PATH_BAD);
    expect_rc("/%2E%2e/%2e%2E/etc", STATIC_PATH_BAD);
    expect_rc("/.%2e/x", STATIC_PATH_BAD);
    expect_rc("/a/./../../x", STATIC_PATH_BAD);
    expect_rc("/a%2Fb", STATIC_PATH_BAD);
    expect_rc("/a%2fb", STATIC_PATH_BAD);
    expect_rc("/..%2f..%2fetc", STATIC_PATH_BAD);
    expect_rc("/a%00b", STATIC_PATH_BAD);
    expect_rc("/..%5c..%5cetc%5cpasswd", STATIC_PATH_BAD);
    expect_rc("/a\\b", STATIC_PATH_BAD);
    expect_rc("/a%0ab", STATIC_PATH_BAD);
    expect_rc("/a%7f", STATIC_PATH_BAD);
    expect_rc("/%zz", STATIC_PATH_BAD);
    expect_rc("/%4", STATIC_PATH_BAD);
    expect_rc("/abc%", STATIC_PATH_BAD);
    expect_rc("/%%32%65", STATIC_PATH_BAD);
    expect_rc("a/b", STATIC_PATH_BAD);
    expect_rc("", STATIC_PATH_BAD);
    expect_rc("http://x/a", STATIC_PATH_BAD);
    /* a raw NUL inside the slice */
    struct static_norm n;
    assert_int_equal(static_path_normalize(str_from("/a\0b", 4), true, &plain, &n),
                     STATIC_PATH_BAD);
}

static void test_normalize_hidden(void **state)
{
    (void)state;
    expect_rc("/.git/config", STATIC_PATH_NOT_FOUND);
    expect_rc("/a/.env", STATIC_PATH_NOT_FOUND);
    expect_rc("/...", STATIC_PATH_NOT_FOUND);
    expect_rc("/%2egit/HEAD", STATIC_PATH_NOT_FOUND);
    expect_rc("/.well-known/acme-challenge/t", STATIC_PATH_NOT_FOUND);
    expect_path("/.git/../index.html", "index.html", false); /* judged after normalising */

    struct static_norm n;
    struct static_path_opts wk = {.allow_well_known = true};
    assert_int_equal(static_path_normalize(str_cstr("/.well-known/acme-challenge/t"), true, &wk,
                                           &n),
                     0);
    assert_string_equal(n.path, ".well-known/acme-challenge/t");
    assert_int_equal(static_path_normalize(str_cstr("/a/.well-known/x"), true, &wk, &n),
                     STATIC_PATH_NOT_FOUND);
    assert_int_equal(static_path_normalize(str_cstr("/.well-known/.x"), true, &wk, &n),
                     STATIC_PATH_NOT_FOUND);
    struct static_path_opts all = {.allow_hidden = true};
    assert_int_equal(static_path_normalize(str_cstr("/.git/config"), true, &all, &n), 0);
    assert_string_equal(n.path, ".git/config");
}

static void test_normalize_long(void **state)
{
    (void)state;
    static char t[20000];
    struct static_norm n;
    /* exactly STATIC_PATH_MAX bytes of path */
    t[0] = '/';
    memset(t + 1, 'a', STATIC_PATH_MAX);
    for (int i = 100; i < STATIC_PATH_MAX; i += 100)
        t[i] = '/';
    assert_int_equal(static_path_normalize(str_from(t, STATIC_PATH_MAX + 1), true, &plain, &n), 0);
    assert_int_equal(n.len, STATIC_PATH_MAX);
    /* one more byte */
    t[STATIC_PATH_MAX + 1] = 'a';
    assert_int_equal(static_path_normalize(str_from(t, STATIC_PATH_MAX + 2), true, &plain, &n),
                     STATIC_PATH_TOO_LONG);
    /* "a/" repeated far past the limit */
    for (int i = 0; i < 9000; i++) {
        t[1 + 2 * i] = 'a';
        t[2 + 2 * i] = '/';
    }
    assert_int_equal(static_path_normalize(str_from(t, 18001), true, &plain, &n),
                     STATIC_PATH_TOO_LONG);
    /* long but collapsing: "//////...x" is short once clean */
    memset(t, '/', 10000);
    t[10000] = 'x';
    assert_int_equal(static_path_normalize(str_from(t, 10001), true, &plain, &n), 0);
    assert_string_equal(n.path, "x");
}

static void test_location(void **state)
{
    (void)state;
    char out[256];
    struct static_norm n;
    assert_int_equal(norm("/dir", &n), 0);
    assert_int_equal(static_path_location(n.path, n.len, n.query, out, sizeof(out)), 5);
    assert_string_equal(out, "/dir/");
    assert_int_equal(norm("//evil.example?a=1", &n), 0);
    assert_true(static_path_location(n.path, n.len, n.query, out, sizeof(out)) > 0);
    assert_string_equal(out, "/evil.example/?a=1");
    static_path_location("a b/c\"d%", 8, str_from("q=\r\n", 4), out, sizeof(out));
    assert_string_equal(out, "/a%20b/c%22d%25/?q=%0D%0A");
    assert_int_equal(static_path_location("abcdef", 6, STR_NULL, out, 8), -1);
    assert_int_equal(static_path_location("abcdef", 6, STR_NULL, out, 9), 8);
}

/* ---- against a real tree ---- */

static char tmp[4096], root_path[4096];
static int root_fd = -1;

static int setup_tree(void **state)
{
    (void)state;
    fx_tmp_new(tmp, sizeof(tmp));
    fx_mkdir(tmp, "root");
    fx_mkdir(tmp, "outside");
    fx_write(tmp, "outside/secret.txt", "secret");
    fx_path(root_path, sizeof(root_path), tmp, "root");
    fx_write(root_path, "index.html", "<h1>root</h1>");
    fx_write(root_path, "a.txt", "aaa");
    fx_mkdir(root_path, "dir");
    fx_write(root_path, "dir/index.html", "dir index");
    fx_mkdir(root_path, "empty");
    fx_mkdir(root_path, "sub");
    fx_write(root_path, "sub/page.html", "page");
    fx_write(root_path, ".hidden", "hidden");
    fx_symlink(root_path, "link_in", "a.txt");
    fx_symlink(root_path, "link_up_in", "sub/../a.txt");
    fx_symlink(root_path, "sub/link_parent", "../a.txt");
    char out_abs[4096];
    fx_path(out_abs, sizeof(out_abs), tmp, "outside/secret.txt");
    fx_symlink(root_path, "link_abs_out", out_abs);
    fx_symlink(root_path, "link_out", "../outside/secret.txt");
    fx_symlink(root_path, "link_dir_out", "..");
    fx_symlink(root_path, "link_proc", "/proc/self/root/etc/passwd");
    char fifo[4096];
    fx_path(fifo, sizeof(fifo), root_path, "fifo");
    if (mkfifo(fifo, 0644) == -1)
        return -1;
    root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return root_fd >= 0 ? 0 : -1;
}

static int teardown_tree(void **state)
{
    (void)state;
    close(root_fd);
    fx_tmp_remove(tmp);
    return 0;
}

static const char *const index_html[] = {"index.html"};

static int resolve(const char *target, const struct static_resolve_cfg *cfg,
                   struct static_resolved *r)
{
    struct static_norm n;
    int rc = static_path_normalize(str_cstr(target), true, &cfg->opts, &n);
    if (rc != 0)
        return -rc;
    static_path_resolve(cfg, &n, r);
    if (r->fd >= 0)
        close(r->fd);
    return r->status;
}

static void expect_resolve(const struct static_resolve_cfg *cfg, const char *target, int status,
                           const char *path)
{
    struct static_resolved r;
    int got = resolve(target, cfg, &r);
    if (got != status)
        fail_msg("%s: status %d, want %d", target, got, status);
    if (path)
        assert_string_equal(r.path, path);
}

static void test_resolve_files(void **state)
{
    (void)state;
    struct static_resolve_cfg cfg = {.root_fd = root_fd, .index = index_html, .nindex = 1};
    expect_resolve(&cfg, "/a.txt", 200, "a.txt");
    expect_resolve(&cfg, "/", 200, "index.html");
    expect_resolve(&cfg, "/dir", 301, "dir");
    expect_resolve(&cfg, "/dir/", 200, "dir/index.html");
    expect_resolve(&cfg, "/dir/?x=1", 200, "dir/index.html");
    expect_resolve(&cfg, "/empty/", 404, NULL); /* no listing */
    expect_resolve(&cfg, "/nope", 404, NULL);
    expect_resolve(&cfg, "/a.txt/", 404, NULL);
    expect_resolve(&cfg, "/.hidden", 404, NULL);
    expect_resolve(&cfg, "/fifo", 404, NULL); /* O_NONBLOCK: does not hang, and is refused */
    expect_resolve(&cfg, "/../outside/secret.txt", 400, NULL);

    struct static_resolved r;
    assert_int_equal(resolve("/a.txt", &cfg, &r), 200);
    assert_true(r.direct);
    assert_int_equal(r.st.st_size, 3);
    assert_int_equal(resolve("/", &cfg, &r), 200);
    assert_false(r.direct);

    struct static_resolve_cfg noindex = {.root_fd = root_fd};
    expect_resolve(&noindex, "/dir/", 404, NULL);
}

static void test_resolve_symlinks(void **state)
{
    (void)state;
    struct static_resolve_cfg cfg = {.root_fd = root_fd, .index = index_html, .nindex = 1};
    expect_resolve(&cfg, "/link_in", 200, "link_in");
    expect_resolve(&cfg, "/link_up_in", 200, "link_up_in");
    expect_resolve(&cfg, "/sub/link_parent", 200, "sub/link_parent");
    expect_resolve(&cfg, "/link_out", 404, NULL);
    expect_resolve(&cfg, "/link_abs_out", 404, NULL);
    expect_resolve(&cfg, "/link_dir_out/outside/secret.txt", 404, NULL);
    expect_resolve(&cfg, "/link_dir_out/root/a.txt", 404, NULL);
    expect_resolve(&cfg, "/link_proc", 404, NULL);

    struct static_resolve_cfg strict = cfg;
    strict.opts.no_symlinks = true;
    expect_resolve(&strict, "/link_in", 404, NULL);
    expect_resolve(&strict, "/a.txt", 200, "a.txt");

    /* the kernel refuses what the normaliser would never produce */
    int fd;
    struct stat st;
    assert_int_equal(static_path_open(root_fd, "../outside/secret.txt", &plain, &fd, &st),
                     STATIC_PATH_NOT_FOUND);
    assert_int_equal(static_path_open(root_fd, "/etc/passwd", &plain, &fd, &st),
                     STATIC_PATH_NOT_FOUND);
    assert_int_equal(fd, -1);
}

static void test_open_walk(void **state)
{
    (void)state;
    int fd;
    struct stat st;
    assert_int_equal(static_path_open_walk(root_fd, "a.txt", &fd, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    close(fd);
    assert_int_equal(static_path_open_walk(root_fd, "dir/index.html", &fd, &st), 0);
    close(fd);
    assert_int_equal(static_path_open_walk(root_fd, "", &fd, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    close(fd);
    /* every symlink refused, inside the root too */
    assert_int_equal(static_path_open_walk(root_fd, "link_in", &fd, &st), STATIC_PATH_NOT_FOUND);
    assert_int_equal(static_path_open_walk(root_fd, "link_dir_out/outside/secret.txt", &fd, &st),
                     STATIC_PATH_NOT_FOUND);
    assert_int_equal(static_path_open_walk(root_fd, "nope/x", &fd, &st), STATIC_PATH_NOT_FOUND);
    assert_int_equal(static_path_open_walk(root_fd, "fifo", &fd, &st), STATIC_PATH_NOT_FOUND);
    assert_int_equal(fd, -1);
}

static void test_try_files(void **state)
{
    (void)state;
    static const char *const spa[] = {"$uri", "$uri/", "/index.html"};
    struct static_resolve_cfg cfg = {
        .root_fd = root_fd, .index = index_html, .nindex = 1, .try_files = spa, .ntry = 3};
    expect_resolve(&cfg, "/app/route/42", 200, "index.html");
    expect_resolve(&cfg, "/a.txt", 200, "a.txt");
    expect_resolve(&cfg, "/dir", 301, "dir");
    expect_resolve(&cfg, "/empty/", 200, "index.html");
    expect_resolve(&cfg, "/.hidden", 404, NULL); /* refused before try_files */
    struct static_resolved r;
    assert_int_equal(resolve("/app/route", &cfg, &r), 200);
    assert_false(r.direct);

    static const char *const clean[] = {"$uri", "$uri.html", "$uri/", "=418"};
    struct static_resolve_cfg c2 = {
        .root_fd = root_fd, .index = index_html, .nindex = 1, .try_files = clean, .ntry = 4};
    expect_resolve(&c2, "/sub/page", 200, "sub/page.html");
    expect_resolve(&c2, "/sub/page.html", 200, "sub/page.html");
    expect_resolve(&c2, "/nope", 418, NULL);
    expect_resolve(&c2, "/", 200, "index.html"); /* "$uri.html" of the root is ".html": hidden */

    static const char *const only_file[] = {"$uri"};
    struct static_resolve_cfg c3 = {.root_fd = root_fd, .try_files = only_file, .ntry = 1};
    expect_resolve(&c3, "/dir", 404, NULL);
    expect_resolve(&c3, "/a.txt", 200, "a.txt");
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_normalize_plain),   cmocka_unit_test(test_normalize_query),
        cmocka_unit_test(test_normalize_traversal), cmocka_unit_test(test_normalize_hidden),
        cmocka_unit_test(test_normalize_long),    cmocka_unit_test(test_location),
    };
    const struct CMUnitTest tree[] = {
        cmocka_unit_test(test_resolve_files), cmocka_unit_test(test_resolve_symlinks),
        cmocka_unit_test(test_open_walk),     cmocka_unit_test(test_try_files),
    };
    int rc = cmocka_run_group_tests_name("static_path", pure, NULL, NULL);
    return rc + cmocka_run_group_tests_name("static_path_tree", tree, setup_tree, teardown_tree);
}
